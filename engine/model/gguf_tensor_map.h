// engine/model/gguf_tensor_map.h — a GGUF file's tensors under the names and
// shapes of the HF checkpoints the model loader reads.
//
// llama.cpp's names (token_embd, blk.N.attn_q, ffn_gate_exps, ...) become
// the HF names (model.embed_tokens.weight, model.layers.N.self_attn.q_proj
// .weight, model.layers.N.mlp.experts.E.gate_proj.weight, ...); GGUF dims
// (innermost first) become HF shapes (outermost first); a stacked expert
// tensor [in, out, experts] becomes one [out, in] slice per expert. For the
// llama architecture (and Mixtral, written as llama) llama.cpp's converter
// permutes the rows of q and k within each head (interleaved RoPE pairs);
// those entries carry the head count so the loader puts the rows back.
#ifndef INFERD_ENGINE_MODEL_GGUF_TENSOR_MAP_H_
#define INFERD_ENGINE_MODEL_GGUF_TENSOR_MAP_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/config.h"
#include "engine/model/gguf_file.h"

namespace inferd::engine {

struct GgufTensorRef {
  const GgufTensorInfo* info = nullptr;
  uint64_t byte_offset = 0;    // inside the tensor's bytes (an expert's slice)
  std::vector<int64_t> shape;  // HF order, outermost first
  int64_t numel = 0;
  // > 0: the rows of this [heads * head_dim, in] matrix are stored in
  // llama.cpp's rope order (within each head, row 2j+t holds HF row
  // t*head_dim/2 + j); the loader undoes it.
  int64_t rope_heads = 0;
};

// Every tensor of `file` by HF name. A tensor name the mapping does not know
// is an error naming it (a file of another architecture, or a newer
// converter).
absl::StatusOr<std::map<std::string, GgufTensorRef>> MapGgufTensors(const GgufFile& file,
                                                                    const ModelConfig& config);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_GGUF_TENSOR_MAP_H_
