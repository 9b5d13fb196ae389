// tests/integration/reflection_test.cc — server reflection (v1alpha) lists the
// API and the health service, and serves the file descriptor of every
// service it lists.
#include <chrono>
#include <set>
#include <string>

#include "google/protobuf/descriptor.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/server_fixture.h"

namespace inferd::testing {
namespace {

using grpc::reflection::v1alpha::ServerReflection;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

class ReflectionTest : public ServerTest {
 protected:
  ServerReflectionResponse Ask(const ServerReflectionRequest& request) {
    auto stub = ServerReflection::NewStub(server_->channel());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto stream = stub->ServerReflectionInfo(&context);
    EXPECT_TRUE(stream->Write(request));
    stream->WritesDone();
    ServerReflectionResponse response;
    EXPECT_TRUE(stream->Read(&response));
    EXPECT_TRUE(stream->Finish().ok());
    return response;
  }
};

TEST_F(ReflectionTest, ListServicesNamesTheApi) {
  ServerReflectionRequest request;
  request.set_list_services("");
  const ServerReflectionResponse response = Ask(request);
  ASSERT_TRUE(response.has_list_services_response()) << response.ShortDebugString();
  std::set<std::string> names;
  for (const auto& service : response.list_services_response().service()) {
    names.insert(service.name());
  }
  EXPECT_TRUE(names.count("inferd.v1.Inference")) << response.ShortDebugString();
  EXPECT_TRUE(names.count("grpc.health.v1.Health")) << response.ShortDebugString();
}

TEST_F(ReflectionTest, FileContainingSymbolServesTheProto) {
  ServerReflectionRequest request;
  request.set_file_containing_symbol("inferd.v1.Inference");
  const ServerReflectionResponse response = Ask(request);
  ASSERT_TRUE(response.has_file_descriptor_response()) << response.ShortDebugString();
  EXPECT_GT(response.file_descriptor_response().file_descriptor_proto_size(), 0);
}

// A client that lists services and then describes them (grpcurl describe,
// Postman) must get a descriptor for each: a listed service whose file is
// not in the server's descriptor pool answers "Symbol not found".
TEST_F(ReflectionTest, EveryListedServiceIsDescribed) {
  ServerReflectionRequest list;
  list.set_list_services("");
  const ServerReflectionResponse listed = Ask(list);
  ASSERT_TRUE(listed.has_list_services_response()) << listed.ShortDebugString();
  ASSERT_GE(listed.list_services_response().service_size(), 2);
  for (const auto& service : listed.list_services_response().service()) {
    ServerReflectionRequest request;
    request.set_file_containing_symbol(service.name());
    const ServerReflectionResponse response = Ask(request);
    ASSERT_TRUE(response.has_file_descriptor_response())
        << service.name() << ": " << response.ShortDebugString();
    bool found = false;
    for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      ASSERT_TRUE(file.ParseFromString(bytes)) << service.name();
      for (const google::protobuf::ServiceDescriptorProto& s : file.service()) {
        const std::string full_name =
            file.package().empty() ? s.name() : file.package() + "." + s.name();
        if (full_name == service.name()) found = true;
      }
    }
    EXPECT_TRUE(found) << service.name() << " is not in the descriptors served for it";
  }
}

}  // namespace
}  // namespace inferd::testing
