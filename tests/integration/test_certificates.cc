// tests/integration/test_certificates.cc
#include "tests/integration/test_certificates.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "tests/integration/subprocess.h"

namespace inferd::testing {

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `openssl args...`; false with its stderr in *error on failure.
bool Openssl(const std::vector<std::string>& args, std::string* error) {
  std::vector<std::string> argv = {"/usr/bin/env", "openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult result = RunCommand(argv, std::chrono::seconds(30));
  if (result.exit_code == 0) return true;
  *error = "openssl " + args.front() + " failed: " + result.err;
  return false;
}

// A key and a certificate signed by `ca` (self-signed when `ca` is empty).
bool MakeCert(const std::string& dir, const std::string& name, const std::string& subject,
              const std::string& ca, const std::string& extensions, std::string* error) {
  const std::string key = dir + "/" + name + ".key";
  const std::string crt = dir + "/" + name + ".crt";
  if (ca.empty()) {
    return Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", subject},
                   error);
  }
  const std::string csr = dir + "/" + name + ".csr";
  const std::string ext = dir + "/" + name + ".ext";
  std::ofstream(ext) << extensions << "\n";
  return Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                  "-keyout", key, "-out", csr, "-subj", subject},
                 error) &&
         Openssl({"x509", "-req", "-in", csr, "-CA", dir + "/" + ca + ".crt", "-CAkey",
                  dir + "/" + ca + ".key", "-CAcreateserial", "-out", crt, "-days", "2", "-extfile",
                  ext},
                 error);
}

}  // namespace

bool HaveOpenssl() {
  return RunCommand({"/usr/bin/env", "openssl", "version"}, std::chrono::seconds(10)).exit_code ==
         0;
}

std::unique_ptr<TestCertificates> TestCertificates::Create(std::string* error) {
  std::string pattern = (std::filesystem::temp_directory_path() / "inferd-tls-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    *error = "mkdtemp failed";
    return nullptr;
  }
  std::unique_ptr<TestCertificates> certs(new TestCertificates(pattern));
  const std::string& dir = certs->dir_;
  const std::string client_ext = "extendedKeyUsage=clientAuth";
  if (!MakeCert(dir, "ca", "/CN=inferd test CA", "", "", error) ||
      !MakeCert(dir, "server", "/CN=localhost", "ca",
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth", error) ||
      !MakeCert(dir, "client", "/CN=inferd test client", "ca", client_ext, error) ||
      !MakeCert(dir, "other_ca", "/CN=untrusted CA", "", "", error) ||
      !MakeCert(dir, "untrusted_client", "/CN=untrusted client", "other_ca", client_ext, error)) {
    return nullptr;
  }
  return certs;
}

TestCertificates::~TestCertificates() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::vector<std::string> TestCertificates::ServerTlsArgs() const {
  return {"--tls-cert", Path("server.crt"), "--tls-key", Path("server.key")};
}

std::shared_ptr<grpc::ChannelCredentials> TestCertificates::ClientCredentials(
    const std::string& cert, const std::string& key) const {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadFile(Path("ca.crt"));
  if (!cert.empty()) {
    options.pem_cert_chain = ReadFile(Path(cert));
    options.pem_private_key = ReadFile(Path(key));
  }
  return grpc::SslCredentials(options);
}

std::shared_ptr<grpc::Channel> NewConnection(
    const std::string& address, std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, credentials, args);
}

}  // namespace inferd::testing
