// server/auth/api_key_authenticator.cc
#include "server/auth/api_key_authenticator.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace inferd::server {

namespace {

// Calls to this service need no key (liveness and readiness probes).
constexpr absl::string_view kUnauthenticatedPrefix = "/grpc.health.v1.Health/";
constexpr absl::string_view kBearer = "bearer ";

absl::string_view View(const grpc::string_ref& ref) { return {ref.data(), ref.size()}; }

}  // namespace

ApiKeyAuthenticator::ApiKeyAuthenticator(ApiKeySet keys, std::function<void()> on_failure)
    : keys_(std::move(keys)), on_failure_(std::move(on_failure)) {}

bool ApiKeyAuthenticator::Allows(absl::string_view path,
                                 const std::vector<absl::string_view>& authorization) const {
  if (absl::StartsWith(path, kUnauthenticatedPrefix)) return true;
  // Exactly one authorization value: with several, which one a proxy or a
  // handler would believe is ambiguous.
  if (authorization.size() != 1) return false;
  absl::string_view value = authorization.front();
  // RFC 7235: the scheme is case-insensitive.
  if (value.size() <= kBearer.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kBearer.size()), kBearer)) {
    return false;
  }
  value.remove_prefix(kBearer.size());
  return keys_.Contains(absl::StripLeadingAsciiWhitespace(value));
}

grpc::Status ApiKeyAuthenticator::Process(const InputMetadata& auth_metadata,
                                          grpc::AuthContext* /*context*/,
                                          OutputMetadata* consumed_auth_metadata,
                                          OutputMetadata* /*response_metadata*/) {
  absl::string_view path;
  if (auto it = auth_metadata.find(":path"); it != auth_metadata.end()) path = View(it->second);
  std::vector<absl::string_view> authorization;
  const auto [begin, end] = auth_metadata.equal_range("authorization");
  for (auto it = begin; it != end; ++it) {
    authorization.push_back(View(it->second));
    // Removed from the call: handlers never see a key.
    consumed_auth_metadata->emplace("authorization", std::string(View(it->second)));
  }
  if (Allows(path, authorization)) return grpc::Status::OK;
  if (on_failure_) on_failure_();
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, kUnauthenticatedMessage);
}

}  // namespace inferd::server
