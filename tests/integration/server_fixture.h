// tests/integration/server_fixture.h — a test suite sharing one real server.
//
// The server (../shared/<kModelPath>, stories260K by default, --port 0, plus
// the suite's ServerArgs()) starts in the first SetUp and stops (SIGTERM) after the suite. Under
// CTest every TEST runs in its own process, so each test gets a fresh server; run directly, the
// binary's tests share one. Tests skip when ../shared is absent.
#ifndef INFERD_TESTS_INTEGRATION_SERVER_FIXTURE_H_
#define INFERD_TESTS_INTEGRATION_SERVER_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/inferd_server.h"
#include "tests/integration/test_client.h"
#include "tests/test_util.h"

namespace inferd::testing {

template <const char* kModelPath>
class ServerTestWith : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    if (server_ != nullptr) server_->Stop();
    server_.reset();
  }

  void SetUp() override {
    INFERD_REQUIRE_SHARED(kModelPath);
    if (server_ == nullptr) {
      std::string error;
      server_ = InferdServer::Start(SharedPath(kModelPath), ServerArgs(), &error);
      ASSERT_NE(server_, nullptr) << error;
    }
    stub_ = server_->NewStub();
  }

  static std::string ModelDir() { return SharedPath(kModelPath); }
  // Flags the suite's server starts with, beyond the model and the port.
  virtual std::vector<std::string> ServerArgs() const { return {}; }

  inline static std::unique_ptr<InferdServer> server_;
  std::unique_ptr<v1::Inference::Stub> stub_;
};

using ServerTest = ServerTestWith<kModel>;

}  // namespace inferd::testing

#endif  // INFERD_TESTS_INTEGRATION_SERVER_FIXTURE_H_
