// server/reflection_descriptors.cc — puts the descriptors of the services
// inferd serves, but does not generate itself, into protobuf's generated
// pool, where server reflection (grpc++_reflection) looks symbols up.
//
// gRPC's default health service (grpc.health.v1.Health) is listed by
// reflection, but libgrpc++ 1.51 implements it with upb messages, so
// health.proto's C++ descriptor is in no pool and "describe
// grpc.health.v1.Health" answered "Symbol not found". The inferd executable
// links inferd_grpc_health_proto (whose health.pb.cc registers the file at
// start-up; libgrpc++ carries no copy of it, so nothing registers it twice).
//
// This file is compiled into the executable itself, not the inferd_server
// archive: an object file in an archive is linked only when something refers
// to it, and nothing does. Its initializer refers to the health messages, so
// the linker keeps health.pb.o, and registration is checked before main().
#include "grpc/health/v1/health.pb.h"

namespace inferd::server {
namespace {

[[maybe_unused]] const bool kHealthDescriptorLinked =
    grpc::health::v1::HealthCheckRequest::descriptor() != nullptr;

}  // namespace
}  // namespace inferd::server
