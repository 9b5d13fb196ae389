// server/http/http_error.h — errors of the OpenAI-compatible HTTP API as
// OpenAI shapes them: an HTTP status and the body
//
//   {"error": {"message": "...", "type": "...", "param": null|"...", "code": null|"..."}}
//
// absl::Status codes map to statuses as the gRPC service maps them to gRPC
// codes: INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE, ALREADY_EXISTS
// -> 400; NOT_FOUND -> 404; RESOURCE_EXHAUSTED (queue full) -> 429;
// UNAVAILABLE (loading, draining) -> 503; DEADLINE_EXCEEDED -> 504; anything
// else 500.
#ifndef INFERD_SERVER_HTTP_HTTP_ERROR_H_
#define INFERD_SERVER_HTTP_HTTP_ERROR_H_

#include <string>

#include "absl/status/status.h"

namespace inferd::server::http {

struct HttpError {
  int status = 500;
  std::string message;
  std::string type;   // "invalid_request_error", "not_found_error", ...
  std::string param;  // "" -> null
  std::string code;   // "" -> null
};

// `status` not OK; its kParamPayload (openai_request.h), if any, is `param`.
HttpError ErrorFromStatus(const absl::Status& status);
HttpError MakeError(int http_status, std::string message, std::string code = "");

// The {"error": {...}} object as JSON text.
std::string ErrorJson(const HttpError& error);

}  // namespace inferd::server::http

#endif  // INFERD_SERVER_HTTP_HTTP_ERROR_H_
