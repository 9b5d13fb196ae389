// tests/unit/model/kquant_gguf.h — a GGUF file built in memory for tests: a
// two-layer Llama of hidden 256 (k-quants need rows of whole 256-element
// super-blocks) whose matrices are random Q4_K and Q6_K blocks, laid out as
// llama-quantize's Q4_K_M does: Q6_K embedding, LM head and ffn_down; Q4_K
// q/k/o/gate/up; v in Q4_K in layer 0 and Q6_K in layer 1, so layer 1's
// fused qkv mixes two types. No tokenizer metadata: serve it with
// --tokenizer DIR of a tokenizer with the same vocabulary size.
#ifndef INFERD_TESTS_UNIT_MODEL_KQUANT_GGUF_H_
#define INFERD_TESTS_UNIT_MODEL_KQUANT_GGUF_H_

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/quant_blocks.h"
#include "tests/unit/model/gguf_writer.h"

namespace inferd::testing {

struct KQuantLlama {
  static constexpr int kHidden = 256, kLayers = 2, kHeads = 4, kKvHeads = 2, kHeadDim = 64,
                       kFfn = 512, kContext = 1024;
};

// `rows` rows of `cols` elements in random Q4_K super-blocks. d and dmin
// are chosen so the weights have mean about 0 (dmin * E[min] = d * E[scale]
// * E[code]) and standard deviation about `std`.
inline std::vector<uint8_t> RandomQ4KBlocks(std::mt19937* rng, int rows, int cols, float std) {
  const int blocks = rows * cols / 256;
  std::vector<uint8_t> bytes(static_cast<size_t>(blocks) * sizeof(kernels::BlockQ4_K));
  for (uint8_t& b : bytes) b = static_cast<uint8_t>((*rng)());
  auto* blk = reinterpret_cast<kernels::BlockQ4_K*>(bytes.data());
  const float d = std / 250.0f;  // scale * code has standard deviation about 250
  for (int i = 0; i < blocks; ++i) {
    blk[i].d = kernels::F32ToF16(d);
    blk[i].dmin = kernels::F32ToF16(d * 7.5f);
  }
  return bytes;
}

// The same in Q6_K (scale * (code - 32) has standard deviation about 1370).
inline std::vector<uint8_t> RandomQ6KBlocks(std::mt19937* rng, int rows, int cols, float std) {
  const int blocks = rows * cols / 256;
  std::vector<uint8_t> bytes(static_cast<size_t>(blocks) * sizeof(kernels::BlockQ6_K));
  for (uint8_t& b : bytes) b = static_cast<uint8_t>((*rng)());
  auto* blk = reinterpret_cast<kernels::BlockQ6_K*>(bytes.data());
  for (int i = 0; i < blocks; ++i) blk[i].d = kernels::F32ToF16(std / 1370.0f);
  return bytes;
}

// The file's bytes, for a vocabulary of `vocab` tokens (eos 2); with `tied`
// no output.weight (the LM head is the embedding table, as llama-quantize
// writes tied models).
inline std::string KQuantLlamaGguf(int vocab, bool tied = false) {
  using L = KQuantLlama;
  constexpr uint32_t kF32 = 0, kQ4_K = 12, kQ6_K = 14;  // ggml type ids
  std::mt19937 rng(20261207);
  GgufWriter w;
  w.KvStr("general.architecture", "llama");
  w.KvU32("llama.embedding_length", L::kHidden);
  w.KvU32("llama.block_count", L::kLayers);
  w.KvU32("llama.feed_forward_length", L::kFfn);
  w.KvU32("llama.attention.head_count", L::kHeads);
  w.KvU32("llama.attention.head_count_kv", L::kKvHeads);
  w.KvU32("llama.context_length", L::kContext);
  w.KvF32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.KvF32("llama.rope.freq_base", 10000.0f);
  w.KvU32("llama.vocab_size", static_cast<uint32_t>(vocab));
  w.KvU32("tokenizer.ggml.bos_token_id", 1);
  w.KvU32("tokenizer.ggml.eos_token_id", 2);
  // GGUF dims are innermost first: {cols, rows}.
  auto q4k = [&](const std::string& name, int rows, int cols, float std) {
    w.Tensor(name, kQ4_K, {uint64_t(cols), uint64_t(rows)}, RandomQ4KBlocks(&rng, rows, cols, std));
  };
  auto q6k = [&](const std::string& name, int rows, int cols, float std) {
    w.Tensor(name, kQ6_K, {uint64_t(cols), uint64_t(rows)}, RandomQ6KBlocks(&rng, rows, cols, std));
  };
  auto norm = [&](const std::string& name) {
    std::vector<float> v(L::kHidden);
    for (float& x : v) x = 1.0f + 0.1f * std::normal_distribution<float>()(rng);
    w.Tensor(name, kF32, {L::kHidden}, GgufWriter::F32Data(v));
  };
  q6k("token_embd.weight", vocab, L::kHidden, 0.5f);
  if (!tied) q6k("output.weight", vocab, L::kHidden, 0.25f);
  norm("output_norm.weight");
  for (int l = 0; l < L::kLayers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    norm(b + "attn_norm.weight");
    norm(b + "ffn_norm.weight");
    q4k(b + "attn_q.weight", L::kHeads * L::kHeadDim, L::kHidden, 0.08f);
    q4k(b + "attn_k.weight", L::kKvHeads * L::kHeadDim, L::kHidden, 0.08f);
    if (l == 1) {
      q6k(b + "attn_v.weight", L::kKvHeads * L::kHeadDim, L::kHidden, 0.08f);
    } else {
      q4k(b + "attn_v.weight", L::kKvHeads * L::kHeadDim, L::kHidden, 0.08f);
    }
    q4k(b + "attn_output.weight", L::kHidden, L::kHeads * L::kHeadDim, 0.08f);
    q4k(b + "ffn_gate.weight", L::kFfn, L::kHidden, 0.08f);
    q4k(b + "ffn_up.weight", L::kFfn, L::kHidden, 0.08f);
    q6k(b + "ffn_down.weight", L::kHidden, L::kFfn, 0.05f);
  }
  return w.Finish();
}

}  // namespace inferd::testing

#endif  // INFERD_TESTS_UNIT_MODEL_KQUANT_GGUF_H_
