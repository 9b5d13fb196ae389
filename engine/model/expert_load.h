// engine/model/expert_load.h — per-layer expert load (tokens routed to each
// expert) of a Mixture-of-Experts model, for debugging routing. Off by
// default (EngineConfig::track_expert_load). The engine thread records with
// relaxed atomic adds (no locks, no formatting in the step loop); any thread
// may take a snapshot.
#ifndef INFERD_ENGINE_MODEL_EXPERT_LOAD_H_
#define INFERD_ENGINE_MODEL_EXPERT_LOAD_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace inferd::engine {

class ExpertLoad {
 public:
  // Counters for `num_layers` x `num_experts`, all zero.
  ExpertLoad(int64_t num_layers, int64_t num_experts)
      : num_layers_(num_layers),
        num_experts_(num_experts),
        counts_(new std::atomic<int64_t>[num_layers * num_experts]) {
    for (int64_t i = 0; i < num_layers * num_experts; ++i) counts_[i] = 0;
  }

  // Adds one token slot for each of `n` routed expert ids of `layer`.
  void Record(int64_t layer, const int32_t* expert_ids, int64_t n) {
    std::atomic<int64_t>* row = counts_.get() + layer * num_experts_;
    for (int64_t i = 0; i < n; ++i) row[expert_ids[i]].fetch_add(1, std::memory_order_relaxed);
  }

  // [num_layers][num_experts]; dense layers stay all zero.
  std::vector<std::vector<int64_t>> Snapshot() const {
    std::vector<std::vector<int64_t>> out(num_layers_, std::vector<int64_t>(num_experts_));
    for (int64_t l = 0; l < num_layers_; ++l) {
      for (int64_t e = 0; e < num_experts_; ++e) {
        out[l][e] = counts_[l * num_experts_ + e].load(std::memory_order_relaxed);
      }
    }
    return out;
  }

 private:
  int64_t num_layers_;
  int64_t num_experts_;
  std::unique_ptr<std::atomic<int64_t>[]> counts_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_EXPERT_LOAD_H_
