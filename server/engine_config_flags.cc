// server/engine_config_flags.cc
#include "server/engine_config_flags.h"

#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "server/flags.h"
#include "server/model_locator.h"

namespace inferd::server {

namespace {

absl::Status AtLeast(const char* flag, int64_t value, int64_t min) {
  if (value >= min) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("--", flag, " must be >= ", min, ", got ", value));
}

}  // namespace

absl::StatusOr<engine::EngineConfig> EngineConfigFromFlags() {
  engine::EngineConfig config;
  config.max_num_seqs = absl::GetFlag(FLAGS_max_num_seqs);
  config.max_num_batched_tokens = absl::GetFlag(FLAGS_max_num_batched_tokens);
  config.kv_cache_memory_bytes = absl::GetFlag(FLAGS_kv_cache_memory).bytes;
  config.block_size = absl::GetFlag(FLAGS_block_size);
  config.max_queue_len = absl::GetFlag(FLAGS_max_queue_len);
  config.num_threads = absl::GetFlag(FLAGS_num_threads);
  config.track_expert_load = absl::GetFlag(FLAGS_expert_load_stats);
  config.enable_prefix_caching = !absl::GetFlag(FLAGS_no_prefix_caching);
  config.enable_chunked_prefill = !absl::GetFlag(FLAGS_no_chunked_prefill);
  config.max_num_partial_prefills = absl::GetFlag(FLAGS_max_num_partial_prefills);
  for (absl::Status s : {AtLeast("max-num-seqs", config.max_num_seqs, 1),
                         AtLeast("max-num-batched-tokens", config.max_num_batched_tokens, 1),
                         AtLeast("kv-cache-memory", config.kv_cache_memory_bytes, 1),
                         AtLeast("block-size", config.block_size, 1),
                         AtLeast("max-queue-len", config.max_queue_len, 1),
                         AtLeast("max-num-partial-prefills", config.max_num_partial_prefills, 1),
                         AtLeast("num-threads", config.num_threads, 0)}) {
    if (!s.ok()) return s;
  }
  absl::StatusOr<std::string> model_dir = ResolveModelDir(absl::GetFlag(FLAGS_model));
  if (!model_dir.ok()) return model_dir.status();
  config.model_dir = std::move(*model_dir);
  return config;
}

}  // namespace inferd::server
