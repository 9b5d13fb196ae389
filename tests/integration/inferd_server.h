// tests/integration/inferd_server.h — the real daemon for a test:
// `build/inferd serve --model DIR --host 127.0.0.1 --port 0 --metrics-port 0
// --http-port -1 ...`. Its address is read from "inferd: listening on
// HOST:PORT (loading ...)", its metrics port from "inferd: metrics on
// HOST:PORT" (both printed before the model loads), and readiness from
// "inferd: serving <model> on HOST:PORT" plus health SERVING. Extra args may
// set --metrics-port themselves (-1: none); --http-port is -1 (no HTTP API)
// unless they set it. Stop() sends SIGTERM and waits (bounded); the
// destructor kills it.
#ifndef INFERD_TESTS_INTEGRATION_INFERD_SERVER_H_
#define INFERD_TESTS_INTEGRATION_INFERD_SERVER_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "inferd/v1/inference.grpc.pb.h"
#include "tests/integration/subprocess.h"

namespace inferd::testing {

// <build dir>/inferd and <build dir>/inferctl.
std::string InferdPath();
std::string InferctlPath();

struct InferdServerOptions {
  // Return as soon as the port is bound (the model may still be loading);
  // WaitUntilServing() waits for the rest.
  bool return_when_listening = false;
  // Non-empty: the daemon's stderr goes to this file instead of the test's.
  std::string stderr_path;
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  // How channel() connects (the health check that waits for SERVING
  // included); null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> channel_credentials;
};

class InferdServer {
 public:
  // Starts the server and waits (at most `timeout`) until it serves and its
  // health is SERVING. Null, with the reason in *error, on failure.
  static std::unique_ptr<InferdServer> Start(
      const std::string& model_dir, const std::vector<std::string>& extra_args, std::string* error,
      std::chrono::milliseconds timeout = std::chrono::seconds(60));
  static std::unique_ptr<InferdServer> Start(const std::string& model_dir,
                                             const std::vector<std::string>& extra_args,
                                             std::string* error,
                                             const InferdServerOptions& options);

  // After return_when_listening: waits for the serving line and health
  // SERVING. False, with the reason in *error, after `timeout`.
  bool WaitUntilServing(std::chrono::milliseconds timeout, std::string* error);

  // "127.0.0.1:PORT".
  const std::string& address() const { return address_; }
  // The port of http://127.0.0.1:PORT/metrics; -1 when it serves none.
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return process_.pid(); }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  std::unique_ptr<v1::Inference::Stub> NewStub() const { return v1::Inference::NewStub(channel_); }

  // SIGTERM, then waits; the exit code (-1: killed after `timeout`).
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Sends `signal`; Wait() then collects the exit code.
  void Signal(int signal) { process_.Signal(signal); }
  // The exit code (-1: signalled, or killed after `timeout`).
  int Wait(std::chrono::milliseconds timeout) { return process_.Wait(timeout); }

 private:
  InferdServer(ChildProcess process, std::string address, int metrics_port,
               std::shared_ptr<grpc::ChannelCredentials> credentials);

  ChildProcess process_;
  std::string address_;
  int metrics_port_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace inferd::testing

#endif  // INFERD_TESTS_INTEGRATION_INFERD_SERVER_H_
