// server/http/http_error.cc
#include "server/http/http_error.h"

#include <utility>

#include "nlohmann/json.hpp"
#include "server/http/openai_request.h"

namespace inferd::server::http {

namespace {

const char* TypeOf(int http_status) {
  switch (http_status) {
    case 400:
    case 413:
    case 431:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 404:
    case 405:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    case 503:
      return "service_unavailable_error";
    case 504:
      return "timeout_error";
    default:
      return "internal_error";
  }
}

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAlreadyExists:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

}  // namespace

HttpError MakeError(int http_status, std::string message, std::string code) {
  HttpError error;
  error.status = http_status;
  error.message = std::move(message);
  error.type = TypeOf(http_status);
  error.code = std::move(code);
  return error;
}

HttpError ErrorFromStatus(const absl::Status& status) {
  HttpError error = MakeError(HttpStatusOf(status.code()), std::string(status.message()));
  error.param = ParamOf(status);
  if (error.status == 404 && error.param == "model") error.code = "model_not_found";
  return error;
}

std::string ErrorJson(const HttpError& error) {
  nlohmann::ordered_json body;
  nlohmann::ordered_json& e = body["error"];
  e["message"] = error.message;
  e["type"] = error.type;
  e["param"] = error.param.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(error.param);
  e["code"] = error.code.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(error.code);
  // A message may quote bytes of the request that are not UTF-8.
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace inferd::server::http
