// engine/backend/cpu_backend.h — the Backend on the host: tensors in host
// memory, ops by kernels/cpu (fp32 activations; bf16/fp16 weights and cache
// widened in registers), threads from the process-wide pool
// (common/thread_pool.h; the engine sizes it). Upload and ReadToHost copy nothing.
#ifndef INFERD_ENGINE_BACKEND_CPU_BACKEND_H_
#define INFERD_ENGINE_BACKEND_CPU_BACKEND_H_

#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend.h"

namespace inferd::engine {

class CpuBackend final : public Backend {
 public:
  CpuBackend() = default;
  // A fresh CPU backend, shared by the models of one engine (or one test).
  static std::shared_ptr<Backend> Create() { return std::make_shared<CpuBackend>(); }

  Device device() const override { return Device::kCpu; }
  std::string Describe() const override;
  DType activation_dtype() const override { return DType::kF32; }
  DType param_dtype() const override { return DType::kF32; }

  absl::StatusOr<Tensor> Allocate(DType dtype, std::vector<int64_t> shape) override;
  absl::StatusOr<Tensor> Adopt(Tensor host) override;
  void CopyFromHost(const void* src, TensorView dst) override;
  float* ReadToHost(TensorView src, std::vector<float>* staging) override;
  StepInputs Upload(const InputBatch& batch) override;
  IndexView UploadIndices(const std::vector<int32_t>& host, int slot) override;
  void Synchronize() override {}

  void Embedding(TensorView table, IndexView ids, TensorView out) override;
  void Matmul(TensorView x, TensorView w, TensorView bias, TensorView out) override;
  void RmsNorm(TensorView x, TensorView weight, float eps, TensorView out) override;
  void AddRmsNorm(TensorView residual, TensorView x, TensorView weight, float eps,
                  TensorView out) override;
  void Add(TensorView a, TensorView b, TensorView out) override;
  void Rope(TensorView x, IndexView positions, TensorView inv_freq) override;
  void SiluMul(TensorView gate_up, TensorView out) override;
  void AddSilu(TensorView x, TensorView z, TensorView out) override;
  void SigmoidGatedAdd(TensorView gate, TensorView y, TensorView out) override;
  void CopyColumns(TensorView src, int64_t src_col, TensorView dst, int64_t dst_col,
                   int64_t cols) override;
  void GatherRows(TensorView src, IndexView rows, TensorView dst) override;
  void WriteKvCache(TensorView k, TensorView v, IndexView slots, KvLayerView cache) override;
  void PagedAttention(TensorView q, KvLayerView cache, const StepInputs& in, float scale,
                      TensorView out) override;
  void CopyKvSlots(IndexView src, IndexView dst, KvLayerView cache) override;
  void Moe(TensorView x, TensorView router_logits, int64_t k, bool renormalize, TensorView gate_up,
           TensorView down, TensorView out, std::vector<int32_t>* topk_ids) override;

 private:
  // MoE scratch, grown to the largest call.
  std::vector<int32_t> moe_ids_;
  std::vector<float> moe_weights_;
  std::vector<float> moe_floats_;
  std::vector<int32_t> moe_ints_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_BACKEND_CPU_BACKEND_H_
