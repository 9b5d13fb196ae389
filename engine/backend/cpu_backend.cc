// engine/backend/cpu_backend.cc
#include "engine/backend/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/thread_pool.h"
#include "kernels/ops.h"

namespace inferd::engine {

namespace {

const float* F32(TensorView t) { return t.f32(); }

void CheckHost(TensorView t) {
  INFERD_CHECK(t.device == Device::kCpu) << "a " << DeviceName(t.device) << " tensor on the CPU";
}

}  // namespace

std::string CpuBackend::Describe() const {
  return absl::StrCat("cpu (", NumThreads(), " threads)");
}

absl::StatusOr<Tensor> CpuBackend::Allocate(DType dtype, std::vector<int64_t> shape) {
  return Tensor::AllocateHost(dtype, std::move(shape));
}

absl::StatusOr<Tensor> CpuBackend::Adopt(Tensor host) {
  INFERD_CHECK(host.device() == Device::kCpu);
  return host;
}

void CpuBackend::CopyFromHost(const void* src, TensorView dst) {
  CheckHost(dst);
  std::memcpy(dst.data, src, dst.bytes());
}

float* CpuBackend::ReadToHost(TensorView src, std::vector<float>* /*staging*/) { return src.f32(); }

StepInputs CpuBackend::Upload(const InputBatch& b) {
  StepInputs in;
  in.token_ids = HostIndices(b.token_ids);
  in.positions = HostIndices(b.positions);
  in.slot_mapping = HostIndices(b.slot_mapping);
  in.query_start = HostIndices(b.query_start);
  in.seq_lens = HostIndices(b.seq_lens);
  in.block_tables = HostIndices(b.block_tables);
  in.logits_rows = HostIndices(b.logits_rows);
  in.tree_mask = b.tree_mask.empty() ? nullptr : b.tree_mask.data();
  in.num_tokens = static_cast<int32_t>(b.positions.size());
  in.num_seqs = b.num_seqs();
  in.max_blocks_per_seq = b.max_blocks_per_seq;
  in.max_query_len = b.max_query_len();
  in.max_seq_len = b.max_seq_len();
  return in;
}

IndexView CpuBackend::UploadIndices(const std::vector<int32_t>& host, int /*slot*/) {
  return HostIndices(host);
}

void CpuBackend::Embedding(TensorView table, IndexView ids, TensorView out) {
  INFERD_CHECK_EQ(out.rows(), ids.size);
  INFERD_CHECK_EQ(out.row_numel(), table.dim(-1));
  kernels::Embedding(table.data, table.dim(0), table.dim(-1), ids.data, ids.size, out.f32(),
                     table.dtype);
}

void CpuBackend::Matmul(TensorView x, TensorView w, TensorView bias, TensorView out) {
  const int64_t m = x.rows(), k = x.row_numel(), n = w.dim(0);
  INFERD_CHECK_EQ(w.row_numel(), k) << "matmul: x has " << k << " columns, w " << w.row_numel();
  INFERD_CHECK_EQ(out.numel(), m * n);
  INFERD_CHECK(bias.empty() || bias.numel() == n);
  kernels::Matmul(F32(x), w.data, bias.empty() ? nullptr : F32(bias), m, n, k, out.f32(), w.dtype);
}

void CpuBackend::RmsNorm(TensorView x, TensorView weight, float eps, TensorView out) {
  const int64_t d = weight.numel();
  INFERD_CHECK_EQ(x.numel() % d, 0);
  INFERD_CHECK_EQ(out.numel(), x.numel());
  kernels::RmsNorm(F32(x), F32(weight), x.numel() / d, d, eps, out.f32());
}

void CpuBackend::AddRmsNorm(TensorView residual, TensorView x, TensorView weight, float eps,
                            TensorView out) {
  const int64_t d = weight.numel();
  INFERD_CHECK_EQ(residual.numel(), x.numel());
  INFERD_CHECK_EQ(out.numel(), x.numel());
  kernels::AddRmsNorm(residual.f32(), F32(x), F32(weight), x.numel() / d, d, eps, out.f32());
}

void CpuBackend::Add(TensorView a, TensorView b, TensorView out) {
  INFERD_CHECK(a.numel() == b.numel() && out.numel() == a.numel());
  kernels::Add(F32(a), F32(b), a.numel(), out.f32());
}

void CpuBackend::Rope(TensorView x, IndexView positions, TensorView inv_freq) {
  const int64_t head_dim = 2 * inv_freq.numel();
  const int64_t n = positions.size;
  INFERD_CHECK_EQ(x.numel() % (n * head_dim), 0);
  kernels::Rope(x.f32(), positions.data, n, x.numel() / (n * head_dim), head_dim, F32(inv_freq));
}

void CpuBackend::SiluMul(TensorView gate_up, TensorView out) {
  const int64_t n = gate_up.rows(), inter = out.row_numel();
  INFERD_CHECK_EQ(gate_up.numel(), n * 2 * inter);
  kernels::SiluMul(F32(gate_up), n, inter, out.f32());
}

void CpuBackend::AddSilu(TensorView x, TensorView z, TensorView out) {
  INFERD_CHECK(x.numel() == z.numel() && out.numel() == x.numel());
  const float* xs = F32(x);
  const float* zs = F32(z);
  float* o = out.f32();
  for (int64_t i = 0; i < x.numel(); ++i) o[i] = xs[i] + zs[i] / (1.0f + std::exp(-zs[i]));
}

void CpuBackend::SigmoidGatedAdd(TensorView gate, TensorView y, TensorView out) {
  const int64_t n = gate.numel();
  INFERD_CHECK(y.numel() == out.numel() && y.numel() % n == 0);
  kernels::SigmoidGatedAdd(F32(gate), F32(y), n, y.numel() / n, out.f32());
}

void CpuBackend::CopyColumns(TensorView src, int64_t src_col, TensorView dst, int64_t dst_col,
                             int64_t cols) {
  const int64_t n = src.rows(), a = src.row_numel(), b = dst.row_numel();
  INFERD_CHECK_EQ(dst.rows(), n);
  INFERD_CHECK(src_col >= 0 && src_col + cols <= a && dst_col >= 0 && dst_col + cols <= b);
  const float* s = F32(src);
  float* d = dst.f32();
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(d + i * b + dst_col, s + i * a + src_col, cols * sizeof(float));
  }
}

void CpuBackend::GatherRows(TensorView src, IndexView rows, TensorView dst) {
  const int64_t d = src.row_numel();
  INFERD_CHECK(dst.rows() == rows.size && dst.row_numel() == d);
  const float* s = F32(src);
  float* o = dst.f32();
  for (int64_t i = 0; i < rows.size; ++i) {
    INFERD_CHECK(rows.data[i] >= 0 && rows.data[i] < src.rows()) << "row " << rows.data[i];
    std::memcpy(o + i * d, s + rows.data[i] * d, d * sizeof(float));
  }
}

void CpuBackend::WriteKvCache(TensorView k, TensorView v, IndexView slots, KvLayerView cache) {
  const int64_t kv_dim = cache.k.dim(-1);
  INFERD_CHECK(k.numel() == slots.size * kv_dim && v.numel() == k.numel());
  INFERD_CHECK(cache.k.dtype == cache.v.dtype);
  kernels::WriteKvCache(F32(k), F32(v), slots.data, slots.size, kv_dim, cache.k.data, cache.v.data,
                        cache.k.dtype);
}

void CpuBackend::PagedAttention(TensorView q, KvLayerView cache, const StepInputs& in, float scale,
                                TensorView out) {
  INFERD_CHECK_EQ(q.rank, 3);
  INFERD_CHECK_EQ(q.dim(0), in.num_tokens);
  INFERD_CHECK_EQ(out.numel(), q.numel());
  kernels::PagedAttentionParams p;
  p.q = F32(q);
  p.k_cache = cache.k.data;
  p.v_cache = cache.v.data;
  p.kv_dtype = cache.k.dtype;
  p.out = out.f32();
  p.query_start = in.query_start.data;
  p.seq_lens = in.seq_lens.data;
  p.block_tables = in.block_tables.data;
  p.num_seqs = in.num_seqs;
  p.max_blocks_per_seq = in.max_blocks_per_seq;
  p.num_q_heads = static_cast<int32_t>(q.dim(1));
  p.head_dim = static_cast<int32_t>(q.dim(2));
  p.num_kv_heads = static_cast<int32_t>(cache.k.dim(-1) / q.dim(2));
  p.block_size = cache.block_size;
  p.scale = scale;
  p.tree_mask = in.tree_mask;
  kernels::PagedAttention(p);
}

void CpuBackend::CopyKvSlots(IndexView src, IndexView dst, KvLayerView cache) {
  INFERD_CHECK_EQ(src.size, dst.size);
  kernels::CopyKvSlots(src.data, dst.data, src.size, cache.k.dim(-1), cache.k.data, cache.v.data,
                       cache.k.dtype);
}

void CpuBackend::Moe(TensorView x, TensorView router_logits, int64_t k, bool renormalize,
                     TensorView gate_up, TensorView down, TensorView out,
                     std::vector<int32_t>* topk_ids) {
  const int64_t n = x.rows(), hidden = x.row_numel();
  const int64_t num_experts = router_logits.row_numel();
  const int64_t inter = down.row_numel();
  INFERD_CHECK_EQ(router_logits.rows(), n);
  INFERD_CHECK_EQ(gate_up.numel(), num_experts * 2 * inter * hidden);
  INFERD_CHECK_EQ(down.numel(), num_experts * hidden * inter);
  INFERD_CHECK(gate_up.dtype == down.dtype);
  moe_ids_.resize(n * k);
  moe_weights_.resize(n * k);
  moe_floats_.resize(kernels::MoeScratchFloats(n, k, hidden, inter));
  moe_ints_.resize(kernels::MoeScratchInts(n, k, num_experts));
  kernels::MoeRoute(F32(router_logits), n, num_experts, k, renormalize, moe_ids_.data(),
                    moe_weights_.data());
  if (topk_ids != nullptr) topk_ids->assign(moe_ids_.begin(), moe_ids_.end());
  kernels::MoeExpertsParams p;
  p.x = F32(x);
  p.topk_ids = moe_ids_.data();
  p.topk_weights = moe_weights_.data();
  p.gate_up = gate_up.data;
  p.down = down.data;
  p.weight_dtype = gate_up.dtype;
  p.out = out.f32();
  p.scratch = moe_floats_.data();
  p.int_scratch = moe_ints_.data();
  p.n = n;
  p.k = k;
  p.hidden = hidden;
  p.inter = inter;
  p.num_experts = num_experts;
  kernels::MoeExperts(p);
}

}  // namespace inferd::engine
