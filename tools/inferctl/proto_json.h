// tools/inferctl/proto_json.h — a protobuf message as a JSON object for
// humans and scripts: field names as in the .proto, 64-bit integers as JSON
// numbers (protobuf's own JSON mapping writes them as strings), enums by name,
// every field present (defaults included).
#ifndef INFERD_TOOLS_INFERCTL_PROTO_JSON_H_
#define INFERD_TOOLS_INFERCTL_PROTO_JSON_H_

#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"

namespace inferd::inferctl {

nlohmann::json ToJson(const google::protobuf::Message& message);

}  // namespace inferd::inferctl

#endif  // INFERD_TOOLS_INFERCTL_PROTO_JSON_H_
