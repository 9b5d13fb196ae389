// tests/integration/security_test.cc — TLS, mutual TLS, API keys, request
// limits and what the logs leave out, against the real daemon with real
// certificates made by `openssl` for the test (test_certificates.h) and real
// gRPC clients. Every test checks that the server kept serving after what it
// refused. Skips without ../shared or without openssl.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/exposition.h"
#include "tests/integration/http_get.h"
#include "tests/integration/inferd_server.h"
#include "tests/integration/subprocess.h"
#include "tests/integration/test_certificates.h"
#include "tests/integration/test_client.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

constexpr char kKey[] = "inferd-test-key-0123456789abcdef";
constexpr char kOtherKey[] = "second-key-for-rotation-000000000";
constexpr char kWrongKey[] = "wrong-key-zzzzzzzzzzzzzzzzzzzzzz";
constexpr char kUnauthenticated[] = "a valid API key is required";

std::chrono::system_clock::time_point In(std::chrono::milliseconds d) {
  return std::chrono::system_clock::now() + d;
}

// grpc.health.v1 Check of readiness ("") on `channel`.
grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                         const std::string& authorization = "",
                         std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  grpc::ClientContext context;
  context.set_deadline(In(timeout));
  if (!authorization.empty()) context.AddMetadata("authorization", authorization);
  HealthCheckResponse response;
  grpc::Status status = Health::NewStub(channel)->Check(&context, HealthCheckRequest(), &response);
  if (status.ok() && response.status() != HealthCheckResponse::SERVING) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "not SERVING");
  }
  return status;
}

// A short greedy Generate with an optional authorization value.
StreamResult Generate(const std::shared_ptr<grpc::Channel>& channel,
                      const std::string& authorization = "",
                      v1::GenerateRequest request = GreedyRequest({1, 403, 407}, 8)) {
  StreamResult result;
  grpc::ClientContext context;
  context.set_deadline(In(std::chrono::seconds(30)));
  if (!authorization.empty()) context.AddMetadata("authorization", authorization);
  auto reader = v1::Inference::NewStub(channel)->Generate(&context, request);
  for (v1::GenerateResponse chunk; reader->Read(&chunk);) {
    ++result.num_chunks;
    result.ids.insert(result.ids.end(), chunk.token_ids().begin(), chunk.token_ids().end());
    result.text += chunk.text();
    if (chunk.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
      result.finish_reason = chunk.finish_reason();
      result.usage = chunk.usage();
    }
  }
  result.status = reader->Finish();
  return result;
}

std::string Bearer(const std::string& key) { return "Bearer " + key; }

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    INFERD_REQUIRE_SHARED(kModel);
    if (!HaveOpenssl()) GTEST_SKIP() << "the openssl command is not installed (apt: openssl)";
    std::string error;
    certs_ = TestCertificates::Create(&error);
    ASSERT_NE(certs_, nullptr) << error;
    key_file_ = certs_->Path("api_keys.txt");
    std::ofstream(key_file_) << "# test keys\n" << kKey << "\n\n" << kOtherKey << "\n";
  }

  // Starts the daemon with `args`; its channel() uses `credentials`.
  std::unique_ptr<InferdServer> Start(const std::vector<std::string>& args,
                                      std::shared_ptr<grpc::ChannelCredentials> credentials,
                                      const std::string& stderr_path = "") {
    InferdServerOptions options;
    options.channel_credentials = std::move(credentials);
    options.stderr_path = stderr_path;
    std::string error;
    std::unique_ptr<InferdServer> server =
        InferdServer::Start(SharedPath(kModel), args, &error, options);
    EXPECT_NE(server, nullptr) << error;
    return server;
  }

  std::vector<std::string> TlsArgs() const { return certs_->ServerTlsArgs(); }

  std::unique_ptr<TestCertificates> certs_;
  std::string key_file_;
};

TEST_F(SecurityTest, TlsServesTlsClientsAndRefusesPlaintextOnes) {
  std::unique_ptr<InferdServer> server = Start(TlsArgs(), certs_->ClientCredentials());
  ASSERT_NE(server, nullptr);
  const StreamResult tls = Generate(server->channel());
  ASSERT_TRUE(tls.status.ok()) << tls.status.error_message();
  EXPECT_EQ(tls.ids.size(), 8u);

  // A plaintext client speaks HTTP/2 cleartext into a TLS handshake: it never
  // gets an answer, whatever the call (health included).
  auto plaintext = NewConnection(server->address(), grpc::InsecureChannelCredentials());
  const grpc::Status refused = CheckHealth(plaintext, "", std::chrono::seconds(3));
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error_code() == grpc::StatusCode::UNAVAILABLE ||
              refused.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
      << refused.error_code() << " " << refused.error_message();
  EXPECT_FALSE(Generate(plaintext).status.ok());

  // A client that does not trust the server's CA refuses the server.
  grpc::SslCredentialsOptions wrong_root;
  wrong_root.pem_root_certs = ReadWholeFile(certs_->Path("other_ca.crt"));
  EXPECT_FALSE(CheckHealth(NewConnection(server->address(), grpc::SslCredentials(wrong_root)), "",
                           std::chrono::seconds(3))
                   .ok());

  // The server kept serving, on a new connection too.
  EXPECT_TRUE(CheckHealth(NewConnection(server->address(), certs_->ClientCredentials())).ok());
  const StreamResult again = Generate(server->channel());
  EXPECT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_EQ(again.ids, tls.ids);
  EXPECT_EQ(server->Stop(), 0);
}

TEST_F(SecurityTest, MutualTlsAdmitsOnlyClientsWithACertificateFromTheClientCa) {
  std::vector<std::string> args = TlsArgs();
  args.insert(args.end(), {"--tls-client-ca", certs_->Path("ca.crt")});
  std::unique_ptr<InferdServer> server =
      Start(args, certs_->ClientCredentials("client.crt", "client.key"));
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(Generate(server->channel()).status.ok());

  const auto no_cert = NewConnection(server->address(), certs_->ClientCredentials());
  EXPECT_FALSE(CheckHealth(no_cert, "", std::chrono::seconds(3)).ok());
  EXPECT_FALSE(Generate(no_cert).status.ok());
  const auto untrusted = NewConnection(
      server->address(), certs_->ClientCredentials("untrusted_client.crt", "untrusted_client.key"));
  EXPECT_FALSE(CheckHealth(untrusted, "", std::chrono::seconds(3)).ok());
  EXPECT_FALSE(Generate(untrusted).status.ok());

  const auto trusted =
      NewConnection(server->address(), certs_->ClientCredentials("client.crt", "client.key"));
  EXPECT_TRUE(CheckHealth(trusted).ok());
  EXPECT_TRUE(Generate(trusted).status.ok());
  EXPECT_EQ(server->Stop(), 0);
}

TEST_F(SecurityTest, ApiKeysGuardEveryServiceButHealth) {
  std::vector<std::string> args = TlsArgs();
  args.insert(args.end(), {"--api-key-file", key_file_});
  std::unique_ptr<InferdServer> server = Start(args, certs_->ClientCredentials());
  ASSERT_NE(server, nullptr);
  const auto channel = server->channel();

  // Health needs no key (Kubernetes probes), and ignores a wrong one.
  EXPECT_TRUE(CheckHealth(channel).ok());
  EXPECT_TRUE(CheckHealth(channel, Bearer(kWrongKey)).ok());

  int refused = 0;
  for (const std::string& authorization :
       {std::string(), Bearer(kWrongKey), "Basic " + std::string(kKey), std::string(kKey),
        std::string("Bearer "), Bearer(std::string(kKey) + "x")}) {
    const StreamResult result = Generate(channel, authorization);
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << "authorization '" << authorization << "': " << result.status.error_message();
    EXPECT_NE(result.status.error_message().find(kUnauthenticated), std::string::npos);
    EXPECT_EQ(result.status.error_message().find(kKey), std::string::npos);
    EXPECT_EQ(result.num_chunks, 0);
    ++refused;
  }
  // The other methods and reflection, without a key.
  auto stub = v1::Inference::NewStub(channel);
  {
    grpc::ClientContext context;
    v1::TokenizeRequest request;
    request.set_text("hello");
    v1::TokenizeResponse response;
    EXPECT_EQ(stub->Tokenize(&context, request, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    ++refused;
  }
  {
    grpc::ClientContext context;
    v1::DetokenizeRequest request;
    request.add_token_ids(403);
    v1::DetokenizeResponse response;
    EXPECT_EQ(stub->Detokenize(&context, request, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    ++refused;
  }
  {
    grpc::ClientContext context;
    v1::GetModelInfoResponse response;
    EXPECT_EQ(stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    ++refused;
  }
  for (const std::string& authorization : {std::string(), Bearer(kKey)}) {
    grpc::ClientContext context;
    context.set_deadline(In(std::chrono::seconds(10)));
    if (!authorization.empty()) context.AddMetadata("authorization", authorization);
    auto stream =
        grpc::reflection::v1alpha::ServerReflection::NewStub(channel)->ServerReflectionInfo(
            &context);
    grpc::reflection::v1alpha::ServerReflectionRequest request;
    request.set_list_services("");
    stream->Write(request);
    stream->WritesDone();
    grpc::reflection::v1alpha::ServerReflectionResponse response;
    while (stream->Read(&response)) {
    }
    const grpc::Status status = stream->Finish();
    if (authorization.empty()) {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
      ++refused;
    } else {
      EXPECT_TRUE(status.ok()) << status.error_message();
      EXPECT_TRUE(response.has_list_services_response());
    }
  }

  // Either key of the file works, the scheme in any case; the server served
  // throughout.
  const StreamResult ok = Generate(channel, Bearer(kKey));
  ASSERT_TRUE(ok.status.ok()) << ok.status.error_message();
  EXPECT_EQ(ok.ids.size(), 8u);
  EXPECT_TRUE(Generate(channel, "bearer " + std::string(kOtherKey)).status.ok());

  // Each refusal was counted.
  std::string error;
  std::optional<HttpResponse> scrape = HttpGet(server->metrics_port(), "/metrics", &error);
  ASSERT_TRUE(scrape.has_value()) << error;
  std::optional<Exposition> metrics = ParseExposition(scrape->body, &error);
  ASSERT_TRUE(metrics.has_value()) << error;
  EXPECT_EQ(metrics->Sum("inferd:auth_failures_total"), refused);
  EXPECT_EQ(server->Stop(), 0);
}

TEST_F(SecurityTest, ClientToolsTalkToASecuredServer) {
  std::vector<std::string> args = TlsArgs();
  args.insert(args.end(), {"--tls-client-ca", certs_->Path("ca.crt"), "--api-key-file", key_file_});
  std::unique_ptr<InferdServer> server =
      Start(args, certs_->ClientCredentials("client.crt", "client.key"));
  ASSERT_NE(server, nullptr);
  const std::vector<std::string> tls = {
      "--addr",     server->address(),          "--tls-ca",  certs_->Path("ca.crt"),
      "--tls-cert", certs_->Path("client.crt"), "--tls-key", certs_->Path("client.key")};
  auto inferctl = [&](std::vector<std::string> argv) {
    argv.insert(argv.begin(), InferctlPath());
    argv.insert(argv.end(), tls.begin(), tls.end());
    return RunCommand(argv, std::chrono::seconds(60));
  };
  CommandResult health = inferctl({"health"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(LastLine(health.out), "SERVING");
  CommandResult no_key = inferctl({"tokenize", "Once upon a time"});
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_NE(no_key.err.find("UNAUTHENTICATED"), std::string::npos) << no_key.err;
  CommandResult with_key = inferctl({"tokenize", "--api-key-file", key_file_, "Once upon a time"});
  EXPECT_EQ(with_key.exit_code, 0) << with_key.err;
  EXPECT_FALSE(LastLine(with_key.out).empty());
  CommandResult generate = inferctl({"generate", "--api-key", kOtherKey, "--max-tokens", "4",
                                     "--temperature", "0", "Once upon a time"});
  EXPECT_EQ(generate.exit_code, 0) << generate.err;
  CommandResult key_without_tls =
      RunCommand({InferctlPath(), "info", "--addr", server->address(), "--api-key", kKey});
  EXPECT_EQ(key_without_tls.exit_code, 2);
  EXPECT_NE(key_without_tls.err.find("--tls-ca"), std::string::npos) << key_without_tls.err;

  // inferload (built with the benchmarks): a short closed-loop run through
  // TLS with the key.
  const std::string inferload = std::string(INFERD_BINARY_DIR) + "/inferload";
  if (!std::filesystem::exists(inferload)) {
    EXPECT_EQ(server->Stop(), 0);
    GTEST_SKIP() << "inferload not built (-DINFERD_BUILD_BENCHMARKS=OFF): its part skipped";
  }
  std::vector<std::string> load = {inferload,
                                   "--num-requests",
                                   "4",
                                   "--concurrency",
                                   "2",
                                   "--input-len",
                                   "8",
                                   "--output-len",
                                   "4",
                                   "--no-progress",
                                   "--api-key-file",
                                   key_file_};
  load.insert(load.end(), tls.begin(), tls.end());
  CommandResult loaded = RunCommand(load, std::chrono::seconds(120));
  EXPECT_EQ(loaded.exit_code, 0) << loaded.err;
  EXPECT_TRUE(std::regex_search(loaded.out, std::regex("Completed:\\s+4\\n"))) << loaded.out;
  EXPECT_TRUE(std::regex_search(loaded.out, std::regex("Errors:\\s+0\\n"))) << loaded.out;
  EXPECT_EQ(server->Stop(), 0);
}

struct BadStart {
  std::string name;
  std::vector<std::string> args;  // file names relative to the certificate dir start with @
  std::string message;            // the start-up error contains it
};

TEST_F(SecurityTest, BadSecurityFlagsStopTheStartBeforeThePortOpens) {
  const std::string garbage = certs_->Path("garbage.pem");
  std::ofstream(garbage) << "this is not a certificate\n";
  const std::string short_keys = certs_->Path("short_keys.txt");
  std::ofstream(short_keys) << "# c\nshortkey-secret\n";
  const std::string empty_keys = certs_->Path("empty_keys.txt");
  std::ofstream(empty_keys) << "# only comments\n\n";
  const std::string crt = certs_->Path("server.crt");
  const std::string key = certs_->Path("server.key");
  const std::vector<BadStart> cases = {
      {"CertWithoutKey", {"--tls-cert", crt}, "--tls-cert and --tls-key go together"},
      {"MissingCertFile",
       {"--tls-cert", "/nonexistent/server.crt", "--tls-key", key},
       "--tls-cert /nonexistent/server.crt: cannot read"},
      {"CertNotPem",
       {"--tls-cert", garbage, "--tls-key", key},
       "--tls-cert " + garbage + ": no PEM"},
      {"KeyNotPem", {"--tls-cert", crt, "--tls-key", garbage}, "--tls-key " + garbage + ": no PEM"},
      {"KeyOfAnotherCertificate",
       {"--tls-cert", crt, "--tls-key", certs_->Path("client.key")},
       "does not match the certificate"},
      {"ClientCaNotPem",
       {"--tls-cert", crt, "--tls-key", key, "--tls-client-ca", garbage},
       "--tls-client-ca " + garbage + ": no PEM"},
      {"ClientCaWithoutTls", {"--tls-client-ca", certs_->Path("ca.crt")}, "needs --tls-cert"},
      {"ApiKeysWithoutTls", {"--api-key-file", key_file_}, "--api-key-file needs --tls-cert"},
      {"ShortApiKey",
       {"--tls-cert", crt, "--tls-key", key, "--api-key-file", short_keys},
       short_keys + " line 2: the key has 15 characters"},
      {"NoApiKey",
       {"--tls-cert", crt, "--tls-key", key, "--api-key-file", empty_keys},
       "no API key in the file"},
      {"MaxRequestBytesTooSmall", {"--max-request-bytes", "10"}, "--max-request-bytes must be"},
      {"NegativeMaxTokensLimit", {"--max-tokens-limit", "-1"}, "--max-tokens-limit must be"},
      {"NoStreamsPerConnection",
       {"--max-streams-per-connection", "0"},
       "--max-streams-per-connection must be"},
  };
  for (const BadStart& c : cases) {
    std::vector<std::string> argv = {InferdPath(),  "serve", "--model",        SharedPath(kModel),
                                     "--port",      "0",     "--metrics-port", "0",
                                     "--http-port", "-1"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const CommandResult result = RunCommand(argv, std::chrono::seconds(30));
    EXPECT_EQ(result.exit_code, 2) << c.name << ": " << result.err;
    EXPECT_NE(result.err.find(c.message), std::string::npos)
        << c.name << ": stderr does not say '" << c.message << "': " << result.err;
    EXPECT_EQ(result.out.find("listening"), std::string::npos) << c.name << ": " << result.out;
    EXPECT_EQ(result.err.find("shortkey-secret"), std::string::npos) << c.name;
  }
}

TEST_F(SecurityTest, LimitsRefuseWithTheirMessageAndTheServerKeepsServing) {
  std::unique_ptr<InferdServer> server =
      Start({"--max-request-bytes", "64KiB", "--max-tokens-limit", "16"}, nullptr);
  ASSERT_NE(server, nullptr);
  const auto channel = server->channel();

  // A request message over --max-request-bytes: refused by gRPC before it is
  // parsed.
  v1::GenerateRequest huge;
  huge.set_text(std::string(100 * 1024, 'a'));
  huge.set_max_tokens(4);
  const StreamResult too_big = Generate(channel, "", huge);
  EXPECT_EQ(too_big.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << too_big.status.error_message();
  EXPECT_NE(too_big.status.error_message().find("larger than max"), std::string::npos)
      << too_big.status.error_message();

  // max_tokens over --max-tokens-limit; an absent one is capped to it.
  const StreamResult over = Generate(channel, "", GreedyRequest({1, 403, 407}, 17));
  EXPECT_EQ(over.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(over.status.error_message().find("--max-tokens-limit"), std::string::npos)
      << over.status.error_message();
  v1::GenerateRequest absent = GreedyRequest({1, 403, 407}, 1);
  absent.clear_max_tokens();
  absent.set_ignore_eos(true);
  const StreamResult capped = Generate(channel, "", absent);
  ASSERT_TRUE(capped.status.ok()) << capped.status.error_message();
  EXPECT_EQ(capped.usage.completion_tokens(), 16);
  EXPECT_EQ(capped.finish_reason, v1::FINISH_REASON_LENGTH);

  // The API's fixed limits: a stop string over 256 bytes, 17 stop strings,
  // logprobs over 20.
  v1::GenerateRequest long_stop = GreedyRequest({1, 403, 407}, 4);
  long_stop.add_stop(std::string(257, 's'));
  const StreamResult stop = Generate(channel, "", long_stop);
  EXPECT_EQ(stop.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(stop.status.error_message().find("at most 256 bytes"), std::string::npos)
      << stop.status.error_message();
  v1::GenerateRequest many_stops = GreedyRequest({1, 403, 407}, 4);
  for (int i = 0; i < 17; ++i) many_stops.add_stop("stop" + std::to_string(i));
  EXPECT_NE(Generate(channel, "", many_stops).status.error_message().find("at most 16 stop"),
            std::string::npos);
  v1::GenerateRequest logprobs = GreedyRequest({1, 403, 407}, 4);
  logprobs.set_logprobs(21);
  EXPECT_NE(Generate(channel, "", logprobs).status.error_message().find("logprobs must be in"),
            std::string::npos);

  const StreamResult good = Generate(channel);
  EXPECT_TRUE(good.status.ok()) << good.status.error_message();
  auto stub = server->NewStub();
  EXPECT_TRUE(WaitUntilIdle(*stub));
  EXPECT_EQ(server->Stop(), 0);
}

TEST_F(SecurityTest, StreamsPerConnectionAreCappedAndOtherConnectionsStillServed) {
  std::unique_ptr<InferdServer> server = Start({"--max-streams-per-connection", "2"}, nullptr);
  ASSERT_NE(server, nullptr);
  const auto first = NewConnection(server->address(), grpc::InsecureChannelCredentials());
  auto health = Health::NewStub(first);
  // Two Watch streams stay open: the connection's two streams are taken.
  HealthCheckRequest request;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<HealthCheckResponse>>> watches;
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    watches.push_back(health->Watch(contexts.back().get(), request));
    HealthCheckResponse response;
    ASSERT_TRUE(watches.back()->Read(&response));
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  }
  // A third call on the same connection waits for a free stream.
  const grpc::Status queued = CheckHealth(first, "", std::chrono::milliseconds(1500));
  EXPECT_EQ(queued.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << queued.error_message();
  // Another connection is served meanwhile.
  const auto second = NewConnection(server->address(), grpc::InsecureChannelCredentials());
  EXPECT_TRUE(CheckHealth(second).ok());
  EXPECT_TRUE(Generate(second).status.ok());
  // Closing one stream frees its slot.
  contexts[0]->TryCancel();
  EXPECT_EQ(watches[0]->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(CheckHealth(first).ok());
  contexts[1]->TryCancel();
  watches[1]->Finish();
  EXPECT_EQ(server->Stop(), 0);
}

TEST_F(SecurityTest, LogsHoldNoPromptTextAndNoKey) {
  const std::string log_path = certs_->Path("inferd_stderr.log");
  std::vector<std::string> args = TlsArgs();
  args.insert(args.end(), {"--api-key-file", key_file_, "--log-requests", "--log-format", "json"});
  std::unique_ptr<InferdServer> server = Start(args, certs_->ClientCredentials(), log_path);
  ASSERT_NE(server, nullptr);
  const std::string prompt = "Zebras whisper secret prompt words";
  v1::GenerateRequest request;
  request.set_text(prompt);
  request.set_max_tokens(4);
  request.add_stop("zebra-stop-string");
  ASSERT_TRUE(Generate(server->channel(), Bearer(kKey), request).status.ok());
  v1::GenerateRequest invalid = request;
  invalid.set_top_p(7);  // INVALID_ARGUMENT
  EXPECT_EQ(Generate(server->channel(), Bearer(kKey), invalid).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Generate(server->channel(), Bearer(kWrongKey), request).status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server->Stop(), 0);
  server.reset();

  const std::string log = ReadWholeFile(log_path);
  EXPECT_NE(log.find("\"msg\":\"request finished\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"api_keys\":2"), std::string::npos) << log;
  for (const std::string& secret :
       {std::string("Zebras"), std::string("whisper"), std::string("zebra-stop-string"),
        std::string(kKey), std::string(kOtherKey), std::string(kWrongKey)}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "the log holds '" << secret << "':\n" << log;
  }
}

}  // namespace
}  // namespace inferd::testing
