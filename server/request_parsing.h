// server/request_parsing.h — a request message from the bytes a client sent,
// refused with a message that says what is wrong.
//
// gRPC 1.51's callback layer answers a request that does not parse with
// UNIMPLEMENTED and no message (server_callback_handlers.h replaces any
// deserialization error). InferenceService therefore takes each method's
// request as a grpc::ByteBuffer and parses it here, so a client gets
// INVALID_ARGUMENT "request is not a valid inferd.v1.GenerateRequest: ...",
// naming the field and byte offset where the encoding goes wrong (a
// truncated varint, a length past the end, invalid UTF-8 in a proto3
// string, ...).
#ifndef INFERD_SERVER_REQUEST_PARSING_H_
#define INFERD_SERVER_REQUEST_PARSING_H_

#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/byte_buffer.h"

namespace inferd::server {

// Parses `bytes` into `message` (cleared first). OK when protobuf accepts
// them; otherwise INVALID_ARGUMENT naming the message type and, when it can
// be found, the first problem: "<field path>: invalid UTF-8 in a string
// field", "truncated varint at byte N", "<field path>: length N runs past
// the end of the message", ... Fields are named by their path from the
// request, with the index of a repeated one ("stop[1]", "token_ids.ids").
absl::Status ParseRequestBytes(std::string_view bytes, google::protobuf::Message* message);

// The same for the message gRPC received; a missing message (a client that
// half-closed without sending one) is INVALID_ARGUMENT too.
absl::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* message);

}  // namespace inferd::server

#endif  // INFERD_SERVER_REQUEST_PARSING_H_
