// server/proto_conversion.h — engine output types -> API messages.
#ifndef INFERD_SERVER_PROTO_CONVERSION_H_
#define INFERD_SERVER_PROTO_CONVERSION_H_

#include <string>

#include "engine/engine.h"
#include "engine/request.h"
#include "inferd/v1/inference.pb.h"

namespace inferd::server {

v1::FinishReason ToProto(engine::FinishReason reason);

// Fills `response` (cleared first) from one engine chunk. finish_reason and
// usage are set only when the chunk is the final one.
void ToProto(const std::string& request_id, const engine::RequestOutput& output,
             v1::GenerateResponse* response);

void ToProto(const engine::ModelInfo& info, const engine::EngineStats& stats,
             v1::GetModelInfoResponse* response);

}  // namespace inferd::server

#endif  // INFERD_SERVER_PROTO_CONVERSION_H_
