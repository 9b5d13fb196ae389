// server/auth/api_key_authenticator.h — API-key authentication of every gRPC
// call (--api-key-file): the client sends the metadata
// `authorization: Bearer <key>`; a call without a key from the set fails with
// UNAUTHENTICATED before it reaches any service. grpc.health.v1.Health is
// exempt, so that Kubernetes probes need no key; Inference and server
// reflection are not.
//
// Why an AuthMetadataProcessor and not a server interceptor: gRPC 1.51's
// server interceptors can observe a call but cannot end it with a status of
// their choice (Hijack is client-only; TryCancel answers CANCELLED), so the
// call would still reach the handler. The processor runs in gRPC's server
// auth filter, before the call is dispatched to any service — the callback
// Inference service and gRPC's own health and reflection services alike —
// and its status is what the client receives. It also removes the
// authorization metadata from the call, so no handler ever sees a key. Its
// one constraint: gRPC attaches processors to secure credentials only, so
// keys need TLS (a bearer key sent in plaintext is readable and replayable by
// anyone on the path anyway).
//
// Thread-safe (the key set is immutable; the failure hook must be too).
#ifndef INFERD_SERVER_AUTH_API_KEY_AUTHENTICATOR_H_
#define INFERD_SERVER_AUTH_API_KEY_AUTHENTICATOR_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "grpcpp/support/status.h"
#include "server/auth/api_key_set.h"

namespace inferd::server {

// The one message of every refused call, whatever was wrong: a client learns
// nothing about the keys.
inline constexpr char kUnauthenticatedMessage[] =
    "a valid API key is required: send the metadata 'authorization: Bearer <key>'";

class ApiKeyAuthenticator final : public grpc::AuthMetadataProcessor {
 public:
  // `on_failure` runs once per refused call (a metrics counter); may be empty.
  ApiKeyAuthenticator(ApiKeySet keys, std::function<void()> on_failure);

  // A hash and a few compares: cheap enough for gRPC's own thread.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

  // The decision alone, for a call to `path` ("/inferd.v1.Inference/Generate")
  // whose `authorization` values are given (none, one, or several).
  bool Allows(absl::string_view path, const std::vector<absl::string_view>& authorization) const;

 private:
  const ApiKeySet keys_;
  const std::function<void()> on_failure_;
};

}  // namespace inferd::server

#endif  // INFERD_SERVER_AUTH_API_KEY_AUTHENTICATOR_H_
