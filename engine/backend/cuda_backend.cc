// engine/backend/cuda_backend.cc
#include "engine/backend/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/check.h"
#include "kernels/cuda/cublas_handle.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/device_info.h"

namespace inferd::engine {

namespace {

namespace cuda = kernels::cuda;

class CudaStorage final : public Storage {
 public:
  CudaStorage(void* data) : data_(data) {}  // NOLINT: owns `data`
  ~CudaStorage() override {
    if (data_ != nullptr) CUDA_CHECK(cudaFree(data_));
  }
  void* data() override { return data_; }
  Device device() const override { return Device::kCuda; }

 private:
  void* data_;
};

void CheckDevice(TensorView t, const char* what) {
  INFERD_CHECK(t.device == Device::kCuda)
      << what << ": a " << DeviceName(t.device) << " tensor given to the CUDA backend";
}

// A device buffer grown to the largest request (contents lost on growth).
void Grow(cuda::DeviceBuffer* b, size_t bytes) {
  if (b->bytes() < bytes) *b = cuda::DeviceBuffer(std::max(bytes, 2 * b->bytes()));
}

}  // namespace

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(DType dtype) : dtype_(dtype) {
    CUDA_CHECK(cudaSetDevice(0));
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    cublas_ = std::make_unique<cuda::CublasHandle>();
    const cuda::DeviceInfo info = cuda::QueryDevices();
    describe_ =
        absl::StrFormat("cuda:0 (%s, sm_%d%d, %.1f GiB)", info.name, info.compute_major,
                        info.compute_minor, static_cast<double>(info.total_memory) / (1 << 30));
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    cublas_.reset();
    cudaStreamDestroy(stream_);
  }

  Device device() const override { return Device::kCuda; }
  std::string Describe() const override { return describe_; }
  DType activation_dtype() const override { return dtype_; }
  DType param_dtype() const override { return dtype_; }

  absl::StatusOr<Tensor> Allocate(DType dtype, std::vector<int64_t> shape) override {
    const int64_t bytes = ShapeNumel(shape) * kernels::DTypeSize(dtype);
    void* data = nullptr;
    if (bytes > 0) {
      if (cudaError_t e = cudaMalloc(&data, static_cast<size_t>(bytes)); e != cudaSuccess) {
        cudaGetLastError();  // clear the sticky-free error state
        return absl::ResourceExhaustedError(
            absl::StrFormat("cannot allocate %.3g GiB on the GPU: %s",
                            static_cast<double>(bytes) / (1 << 30), cudaGetErrorString(e)));
      }
    }
    return Tensor(std::make_unique<CudaStorage>(data), dtype, std::move(shape));
  }

  absl::StatusOr<Tensor> Adopt(Tensor host) override {
    INFERD_CHECK(host.device() == Device::kCpu);
    absl::StatusOr<Tensor> t = Allocate(host.dtype(), host.shape());
    if (!t.ok()) return t.status();
    if (host.bytes() > 0) {
      // Loading threads call this concurrently: synchronous copies on the
      // legacy stream, each thread on device 0.
      CUDA_CHECK(cudaSetDevice(0));
      CUDA_CHECK(cudaMemcpy(t->data(), host.data(), host.bytes(), cudaMemcpyHostToDevice));
    }
    return t;  // `host` is freed here
  }

  void CopyFromHost(const void* src, TensorView dst) override {
    CheckDevice(dst, "CopyFromHost");
    CUDA_CHECK(cudaSetDevice(0));
    CUDA_CHECK(cudaMemcpy(dst.data, src, dst.bytes(), cudaMemcpyHostToDevice));
  }

  float* ReadToHost(TensorView src, std::vector<float>* staging) override {
    CheckDevice(src, "ReadToHost");
    const int64_t n = src.numel();
    staging->resize(n);
    const void* from = src.data;
    if (src.dtype != DType::kF32) {
      Grow(&convert_, n * sizeof(float));
      cuda::Convert(src.data, src.dtype, convert_.data(), DType::kF32, n, stream_);
      from = convert_.data();
    }
    CUDA_CHECK(
        cudaMemcpyAsync(staging->data(), from, n * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    return staging->data();
  }

  StepInputs Upload(const InputBatch& b) override {
    // One packed int32 upload: the host arrays back to back.
    const std::array<const std::vector<int32_t>*, 7> parts = {
        &b.token_ids, &b.positions,    &b.slot_mapping, &b.query_start,
        &b.seq_lens,  &b.block_tables, &b.logits_rows};
    size_t total = 0;
    for (const auto* p : parts) total += p->size();
    const size_t mask_at = (total + 1) / 2 * 2;  // the uint64 mask words 8-byte aligned
    packed_.assign(mask_at + 2 * b.tree_mask.size(), 0);
    Grow(&batch_, packed_.size() * sizeof(int32_t));
    std::array<IndexView, 7> views;
    size_t at = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
      std::copy(parts[i]->begin(), parts[i]->end(), packed_.begin() + at);
      views[i] = {batch_.as<int32_t>() + at, static_cast<int64_t>(parts[i]->size()), Device::kCuda};
      at += parts[i]->size();
    }
    if (!b.tree_mask.empty()) {
      std::memcpy(packed_.data() + mask_at, b.tree_mask.data(),
                  b.tree_mask.size() * sizeof(uint64_t));
    }
    // Synchronous: packed_ is rewritten by the next Upload.
    CUDA_CHECK(cudaMemcpyAsync(batch_.data(), packed_.data(), packed_.size() * sizeof(int32_t),
                               cudaMemcpyHostToDevice, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    StepInputs in;
    in.token_ids = views[0];
    in.positions = views[1];
    in.slot_mapping = views[2];
    in.query_start = views[3];
    in.seq_lens = views[4];
    in.block_tables = views[5];
    in.logits_rows = views[6];
    in.tree_mask = b.tree_mask.empty()
                       ? nullptr
                       : reinterpret_cast<const uint64_t*>(batch_.as<int32_t>() + mask_at);
    in.num_tokens = static_cast<int32_t>(b.positions.size());
    in.num_seqs = b.num_seqs();
    in.max_blocks_per_seq = b.max_blocks_per_seq;
    in.max_query_len = b.max_query_len();
    in.max_seq_len = b.max_seq_len();
    return in;
  }

  IndexView UploadIndices(const std::vector<int32_t>& host, int slot) override {
    INFERD_CHECK(slot >= 0 && slot < static_cast<int>(indices_.size())) << "slot " << slot;
    cuda::DeviceBuffer& buf = indices_[slot];
    Grow(&buf, std::max<size_t>(1, host.size()) * sizeof(int32_t));
    CUDA_CHECK(cudaMemcpyAsync(buf.data(), host.data(), host.size() * sizeof(int32_t),
                               cudaMemcpyHostToDevice, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));  // `host` may change after return
    return {buf.as<int32_t>(), static_cast<int64_t>(host.size()), Device::kCuda};
  }

  void Synchronize() override { CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  std::optional<DeviceMemory> QueryMemory() const override {
    size_t free_bytes = 0, total_bytes = 0;
    CUDA_CHECK(cudaSetDevice(0));
    CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    return DeviceMemory{static_cast<int64_t>(free_bytes), static_cast<int64_t>(total_bytes)};
  }

  // What the Grow()n buffers below reach for steps up to `s`. Grow allocates
  // max(need, 2 x old) and frees the old buffer after the new one exists, so
  // each buffer's peak is under 3x its largest need. cuBLAS's own workspace
  // and the library's lazily loaded modules: kCublasReserve.
  int64_t ScratchBytes(const StepShape& s) const override {
    constexpr int64_t kCublasReserve = 64ll << 20;
    const int64_t es = static_cast<int64_t>(kernels::DTypeSize(dtype_));
    int64_t need = 0;
    // fp32 logits from 16-bit activations go through a GEMM output buffer.
    if (dtype_ != DType::kF32) need += s.max_logits_rows * s.vocab * es;
    // Split-KV attention: its workspace for the most tokens that can take
    // it (queries of at most kSplitKvMaxQueryLen tokens, or every step when
    // flash prefill cannot run: fp32, head_dim other than 64/128).
    const bool flash = dtype_ != DType::kF32 && (s.head_dim == 64 || s.head_dim == 128);
    cuda::PagedAttentionArgs a;
    a.dtype = dtype_;
    a.kernel = cuda::AttentionKernel::kSplitKv;
    a.num_seqs = static_cast<int32_t>(std::max<int64_t>(s.max_seqs, 1));
    a.num_tokens = static_cast<int32_t>(
        flash ? std::min<int64_t>(s.max_tokens, s.max_seqs * cuda::kSplitKvMaxQueryLen)
              : s.max_tokens);
    a.num_q_heads = static_cast<int32_t>(s.num_q_heads);
    a.num_kv_heads = static_cast<int32_t>(s.num_kv_heads);
    a.head_dim = static_cast<int32_t>(s.head_dim);
    a.max_query_len = flash ? cuda::kSplitKvMaxQueryLen : static_cast<int32_t>(s.max_tokens);
    a.max_seq_len = static_cast<int32_t>(s.max_seq_len);
    need += cuda::PagedAttentionWorkspaceBytes(a);
    if (s.num_experts > 0) {
      const int64_t n = s.max_tokens, k = s.experts_per_token;
      need += cuda::MoeScratchBytes(dtype_, n, k, s.hidden, s.moe_intermediate) +
              cuda::MoeScratchInts(n, k, s.num_experts) * 4 + n * k * 8;
    }
    return 3 * need + kCublasReserve;
  }

  void Embedding(TensorView table, IndexView ids, TensorView out) override {
    CheckDevice(table, "Embedding");
    CheckSame(table, out, "Embedding");
    INFERD_CHECK_EQ(out.rows(), ids.size);
    cuda::Embedding(table.data, table.dim(0), table.dim(-1), ids.data, ids.size, out.data,
                    out.dtype, stream_);
  }

  void Matmul(TensorView x, TensorView w, TensorView bias, TensorView out) override {
    CheckDevice(x, "Matmul");
    CheckSame(x, w, "Matmul weight");
    const int64_t m = x.rows(), k = x.row_numel(), n = w.dim(0);
    INFERD_CHECK_EQ(w.row_numel(), k);
    INFERD_CHECK_EQ(out.numel(), m * n);
    INFERD_CHECK(bias.empty() || (bias.numel() == n && bias.dtype == x.dtype));
    if (out.dtype == x.dtype) {
      cuda::Matmul(cublas_->get(), x.data, w.data, bias.empty() ? nullptr : bias.data, m, n, k,
                   out.data, x.dtype, stream_);
      return;
    }
    // fp32 logits from 16-bit activations: GEMM in the compute dtype, then widen.
    Grow(&matmul_out_, m * n * kernels::DTypeSize(x.dtype));
    cuda::Matmul(cublas_->get(), x.data, w.data, bias.empty() ? nullptr : bias.data, m, n, k,
                 matmul_out_.data(), x.dtype, stream_);
    cuda::Convert(matmul_out_.data(), x.dtype, out.data, out.dtype, m * n, stream_);
  }

  void RmsNorm(TensorView x, TensorView weight, float eps, TensorView out) override {
    CheckSame(x, weight, "RmsNorm weight");
    CheckSame(x, out, "RmsNorm");
    const int64_t d = weight.numel();
    cuda::RmsNorm(x.data, weight.data, x.numel() / d, d, eps, out.data, x.dtype, stream_);
  }

  void AddRmsNorm(TensorView residual, TensorView x, TensorView weight, float eps,
                  TensorView out) override {
    CheckSame(residual, x, "AddRmsNorm");
    CheckSame(x, weight, "AddRmsNorm weight");
    const int64_t d = weight.numel();
    cuda::AddRmsNorm(residual.data, x.data, weight.data, x.numel() / d, d, eps, out.data, x.dtype,
                     stream_);
  }

  void Add(TensorView a, TensorView b, TensorView out) override {
    CheckSame(a, b, "Add");
    cuda::Add(a.data, b.data, a.numel(), out.data, a.dtype, stream_);
  }

  void Rope(TensorView x, IndexView positions, TensorView inv_freq) override {
    CheckDevice(x, "Rope");
    INFERD_CHECK(inv_freq.dtype == DType::kF32);
    const int64_t head_dim = 2 * inv_freq.numel();
    const int64_t n = positions.size;
    cuda::Rope(x.data, positions.data, n, x.numel() / (n * head_dim), head_dim,
               static_cast<const float*>(inv_freq.data), x.dtype, stream_);
  }

  void SiluMul(TensorView gate_up, TensorView out) override {
    CheckSame(gate_up, out, "SiluMul");
    cuda::SiluMul(gate_up.data, gate_up.rows(), out.row_numel(), out.data, out.dtype, stream_);
  }

  void AddSilu(TensorView x, TensorView z, TensorView out) override {
    CheckSame(x, z, "AddSilu");
    cuda::AddSilu(x.data, z.data, x.numel(), out.data, x.dtype, stream_);
  }

  void SigmoidGatedAdd(TensorView gate, TensorView y, TensorView out) override {
    CheckSame(gate, y, "SigmoidGatedAdd");
    const int64_t n = gate.numel();
    cuda::SigmoidGatedAdd(gate.data, y.data, n, y.numel() / n, out.data, y.dtype, stream_);
  }

  void CopyColumns(TensorView src, int64_t src_col, TensorView dst, int64_t dst_col,
                   int64_t cols) override {
    CheckSame(src, dst, "CopyColumns");
    const int64_t n = src.rows(), a = src.row_numel(), b = dst.row_numel();
    const size_t es = kernels::DTypeSize(src.dtype);
    INFERD_CHECK(src_col >= 0 && src_col + cols <= a && dst_col >= 0 && dst_col + cols <= b);
    CUDA_CHECK(cudaMemcpy2DAsync(static_cast<char*>(dst.data) + dst_col * es, b * es,
                                 static_cast<const char*>(src.data) + src_col * es, a * es,
                                 cols * es, n, cudaMemcpyDeviceToDevice, stream_));
  }

  void GatherRows(TensorView src, IndexView rows, TensorView dst) override {
    CheckSame(src, dst, "GatherRows");
    // A gather of rows by index is the embedding lookup.
    cuda::Embedding(src.data, src.rows(), src.row_numel(), rows.data, rows.size, dst.data,
                    src.dtype, stream_);
  }

  void WriteKvCache(TensorView k, TensorView v, IndexView slots, KvLayerView cache) override {
    CheckSame(k, cache.k, "WriteKvCache");
    cuda::WriteKvCache(k.data, v.data, slots.data, slots.size, cache.k.dim(-1), cache.k.data,
                       cache.v.data, k.dtype, stream_);
  }

  void PagedAttention(TensorView q, KvLayerView cache, const StepInputs& in, float scale,
                      TensorView out) override {
    CheckSame(q, cache.k, "PagedAttention");
    CheckSame(q, out, "PagedAttention");
    cuda::PagedAttentionArgs a;
    a.dtype = q.dtype;
    a.q = q.data;
    a.k_cache = cache.k.data;
    a.v_cache = cache.v.data;
    a.out = out.data;
    a.query_start = in.query_start.data;
    a.seq_lens = in.seq_lens.data;
    a.block_tables = in.block_tables.data;
    a.tree_mask = in.tree_mask;
    a.num_seqs = in.num_seqs;
    a.num_tokens = in.num_tokens;
    a.max_blocks_per_seq = in.max_blocks_per_seq;
    a.num_q_heads = static_cast<int32_t>(q.dim(1));
    a.head_dim = static_cast<int32_t>(q.dim(2));
    a.num_kv_heads = static_cast<int32_t>(cache.k.dim(-1) / q.dim(2));
    a.block_size = cache.block_size;
    a.scale = scale;
    a.max_query_len = in.max_query_len;
    a.max_seq_len = in.max_seq_len;
    const int64_t bytes = cuda::PagedAttentionWorkspaceBytes(a);
    Grow(&attention_workspace_, bytes);
    a.workspace = attention_workspace_.data();
    a.workspace_bytes = static_cast<int64_t>(attention_workspace_.bytes());
    cuda::PagedAttention(a, stream_);
  }

  void CopyKvSlots(IndexView src, IndexView dst, KvLayerView cache) override {
    cuda::CopyKvSlots(src.data, dst.data, src.size, cache.k.dim(-1), cache.k.data, cache.v.data,
                      cache.k.dtype, stream_);
  }

  void Moe(TensorView x, TensorView router_logits, int64_t k, bool renormalize, TensorView gate_up,
           TensorView down, TensorView out, std::vector<int32_t>* topk_ids) override {
    CheckSame(x, gate_up, "Moe experts");
    CheckSame(x, router_logits, "Moe router");
    const int64_t n = x.rows(), hidden = x.row_numel();
    const int64_t num_experts = router_logits.row_numel();
    const int64_t inter = down.row_numel();
    Grow(&moe_ids_, n * k * sizeof(int32_t));
    Grow(&moe_weights_, n * k * sizeof(float));
    cuda::MoeRoute(router_logits.data, router_logits.dtype, n, num_experts, k, renormalize,
                   moe_ids_.as<int32_t>(), moe_weights_.as<float>(), stream_);
    if (topk_ids != nullptr) {
      topk_ids->resize(n * k);
      CUDA_CHECK(cudaMemcpyAsync(topk_ids->data(), moe_ids_.data(), n * k * sizeof(int32_t),
                                 cudaMemcpyDeviceToHost, stream_));
      CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
    Grow(&moe_scratch_, cuda::MoeScratchBytes(x.dtype, n, k, hidden, inter));
    Grow(&moe_ints_, cuda::MoeScratchInts(n, k, num_experts) * sizeof(int32_t));
    cuda::MoeExpertsArgs a;
    a.dtype = x.dtype;
    a.x = x.data;
    a.topk_ids = moe_ids_.as<int32_t>();
    a.topk_weights = moe_weights_.as<float>();
    a.gate_up = gate_up.data;
    a.down = down.data;
    a.out = out.data;
    a.scratch = moe_scratch_.data();
    a.int_scratch = moe_ints_.as<int32_t>();
    a.n = n;
    a.k = k;
    a.hidden = hidden;
    a.inter = inter;
    a.num_experts = num_experts;
    cuda::MoeExperts(a, stream_);
  }

 private:
  static void CheckSame(TensorView a, TensorView b, const char* what) {
    CheckDevice(a, what);
    CheckDevice(b, what);
    INFERD_CHECK(a.dtype == b.dtype)
        << what << ": " << kernels::DTypeName(a.dtype) << " and " << kernels::DTypeName(b.dtype)
        << " (the CUDA ops take one dtype)";
  }

  const DType dtype_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<cuda::CublasHandle> cublas_;
  std::string describe_;
  std::vector<int32_t> packed_;  // host side of Upload
  cuda::DeviceBuffer batch_;     // the step's index arrays
  std::array<cuda::DeviceBuffer, 4> indices_;
  cuda::DeviceBuffer convert_;
  cuda::DeviceBuffer matmul_out_;
  cuda::DeviceBuffer attention_workspace_;
  cuda::DeviceBuffer moe_ids_, moe_weights_, moe_scratch_, moe_ints_;
};

}  // namespace inferd::engine

extern "C" {

int inferd_cuda_device_count(char* error, int error_len) {
  const inferd::kernels::cuda::DeviceInfo info = inferd::kernels::cuda::QueryDevices();
  if (info.count == 0 && error != nullptr && error_len > 0) {
    std::snprintf(error, error_len, "%s", info.error.empty() ? "none found" : info.error.c_str());
  }
  return info.count;
}

inferd::engine::Backend* inferd_create_cuda_backend(int dtype, char* error, int error_len) {
  if (inferd_cuda_device_count(error, error_len) == 0) return nullptr;
  return new inferd::engine::CudaBackend(static_cast<inferd::engine::DType>(dtype));
}

}  // extern "C"
