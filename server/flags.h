// server/flags.h — the flags of `inferd serve` and `inferd generate`, and
// which subcommand accepts which.
//
// Flags are absl flags (global, underscore names); tools/cli/subcommand_flags.h spells them
// with dashes on the command line (--max-num-seqs).
#ifndef INFERD_SERVER_FLAGS_H_
#define INFERD_SERVER_FLAGS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/flags/declare.h"
#include "server/flag_types.h"
#include "tools/cli/subcommand_flags.h"

// Shared by serve and generate.
ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(std::string, tokenizer);
ABSL_DECLARE_FLAG(int32_t, max_num_seqs);
ABSL_DECLARE_FLAG(int32_t, max_num_batched_tokens);
ABSL_DECLARE_FLAG(inferd::server::ByteSize, kv_cache_memory);
ABSL_DECLARE_FLAG(int32_t, block_size);
ABSL_DECLARE_FLAG(std::string, device);
ABSL_DECLARE_FLAG(std::string, dtype);
ABSL_DECLARE_FLAG(std::string, kv_cache_dtype);
ABSL_DECLARE_FLAG(std::string, quantization);
ABSL_DECLARE_FLAG(std::string, cpu_isa);
ABSL_DECLARE_FLAG(bool, quantize_lm_head);
ABSL_DECLARE_FLAG(std::string, load_format);
ABSL_DECLARE_FLAG(int64_t, max_model_len);
ABSL_DECLARE_FLAG(int32_t, num_threads);
ABSL_DECLARE_FLAG(bool, no_prefix_caching);
ABSL_DECLARE_FLAG(bool, no_chunked_prefill);
ABSL_DECLARE_FLAG(int32_t, max_num_partial_prefills);
ABSL_DECLARE_FLAG(std::string, speculative);
ABSL_DECLARE_FLAG(std::string, speculative_model);
ABSL_DECLARE_FLAG(int32_t, num_speculative_tokens);
ABSL_DECLARE_FLAG(std::string, medusa_tree);
ABSL_DECLARE_FLAG(std::string, typical_acceptance);
ABSL_DECLARE_FLAG(std::string, speculative_policy);
ABSL_DECLARE_FLAG(std::string, generation_config);

// serve.
ABSL_DECLARE_FLAG(std::string, host);
ABSL_DECLARE_FLAG(int32_t, port);
ABSL_DECLARE_FLAG(int32_t, metrics_port);
ABSL_DECLARE_FLAG(int32_t, http_port);
ABSL_DECLARE_FLAG(std::string, chat_template);
ABSL_DECLARE_FLAG(std::string, served_model_name);
ABSL_DECLARE_FLAG(int32_t, max_queue_len);
ABSL_DECLARE_FLAG(bool, expert_load_stats);
ABSL_DECLARE_FLAG(double, drain_timeout);
ABSL_DECLARE_FLAG(double, watchdog_timeout);
ABSL_DECLARE_FLAG(double, stream_write_timeout);
ABSL_DECLARE_FLAG(inferd::server::LogFormat, log_format);
ABSL_DECLARE_FLAG(bool, log_requests);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_client_ca);
ABSL_DECLARE_FLAG(std::string, api_key_file);
ABSL_DECLARE_FLAG(inferd::server::ByteSize, max_request_bytes);
ABSL_DECLARE_FLAG(int32_t, max_tokens_limit);
ABSL_DECLARE_FLAG(int32_t, max_streams_per_connection);
ABSL_DECLARE_FLAG(std::string, debug_stall_file);  // debugging only
ABSL_DECLARE_FLAG(double, debug_load_delay);       // debugging only

// generate.
ABSL_DECLARE_FLAG(std::string, prompt);
ABSL_DECLARE_FLAG(inferd::server::TokenIdList, prompt_ids);
ABSL_DECLARE_FLAG(int32_t, max_tokens);
ABSL_DECLARE_FLAG(float, temperature);
ABSL_DECLARE_FLAG(int32_t, top_k);
ABSL_DECLARE_FLAG(float, top_p);
ABSL_DECLARE_FLAG(float, min_p);
ABSL_DECLARE_FLAG(std::optional<uint64_t>, seed);
ABSL_DECLARE_FLAG(std::string, stop);  // repeatable: values come from cli::ParsedArgs
ABSL_DECLARE_FLAG(bool, ignore_eos);
ABSL_DECLARE_FLAG(bool, json);

namespace inferd::server {

const cli::SubcommandSpec& ServeSpec();
const cli::SubcommandSpec& GenerateSpec();

}  // namespace inferd::server

#endif  // INFERD_SERVER_FLAGS_H_
