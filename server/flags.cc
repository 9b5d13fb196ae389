// server/flags.cc
#include "server/flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, model, "",
          "HF model directory, or a GGUF file (*.gguf: config, tokenizer and weights from "
          "it; docs/gguf.md). Default: the embedded models/stories260K of the repository "
          "(next to the executable, then the source tree)");
ABSL_FLAG(std::string, tokenizer, "",
          "HF tokenizer directory (tokenizer.json or tokenizer.model, tokenizer_config.json) to "
          "use instead of the model's own, e.g. for a GGUF file whose tokenizer metadata is not "
          "supported; the chat template then comes from it too. Default: the model's");
ABSL_FLAG(int32_t, max_num_seqs, 64, "Most sequences in one engine step");
ABSL_FLAG(int32_t, max_num_batched_tokens, 2048,
          "Most tokens (prefill + decode) in one engine step");
ABSL_FLAG(inferd::server::ByteSize, kv_cache_memory, inferd::server::ByteSize{256ll << 20},
          "KV cache budget: bytes or a size like 512MiB, 1GiB, 2G, 64M");
ABSL_FLAG(int32_t, block_size, 16, "Tokens per KV cache block");
ABSL_FLAG(std::string, device, "cpu",
          "Where the model runs: cpu, cuda (GPU 0; needs a build with nvcc) or auto (cuda "
          "when this build has it and a GPU is found, else cpu). The default stays cpu until "
          "the CUDA backend has passed scripts/gpu_check.sh on a GPU (docs/gpu.md)");
ABSL_FLAG(std::string, cpu_isa, "auto",
          "Instruction-set path of the CPU kernels: auto (the best this CPU runs; the "
          "environment variable INFERD_CPU_ISA sets it for processes without this flag), avx2 "
          "(the floor: AVX2, FMA, F16C), avx-vnni (avx2 plus AVX-VNNI int8 dot products) or "
          "avx512 (AVX-512 F/BW/DQ/VL tiles, vdpbf16ps for bf16 weights and vpdpbusd for "
          "quantized ones where the CPU has them). A path the CPU lacks fails start-up. Outputs "
          "are identical across paths except for bf16 weights with vdpbf16ps (docs/cpu-isa.md)");
ABSL_FLAG(std::string, dtype, "auto",
          "Weights' storage dtype: auto (the checkpoint's own: a bf16 checkpoint stays bf16, "
          "an fp32 one fp32), fp32, bf16 or fp16 (converted at load, rounding to nearest "
          "even). On the CPU activations and accumulation are fp32 in every case; on CUDA "
          "activations are in this dtype, accumulation fp32");
ABSL_FLAG(std::string, kv_cache_dtype, "auto",
          "KV cache element type: auto (the weights' dtype), fp32, bf16 or fp16. bf16/fp16 "
          "hold twice the tokens of fp32 in the same --kv-cache-memory");
ABSL_FLAG(
    std::string, quantization, "auto",
    "Weight-only quantization of the linear layers (attention, MLP, MoE experts), CPU "
    "only: auto (a GGUF file's quantized tensors as stored: Q8_0, Q4_0, Q4_K, Q5_K, Q6_K, the "
    "LM head included; a float checkpoint unquantized), none (everything in --dtype), "
    "int8 at load (llama.cpp's Q8_0: int8 in blocks of 32 along the input "
    "dimension, one fp16 scale each; about 1.06 bytes per weight) or q4 (Q4_0: 4-bit, "
    "about 0.56 bytes per weight). Activations and accumulation stay fp32; embeddings and "
    "norms keep --dtype, and so does the LM head unless --quantize-lm-head. A matrix whose "
    "rows are not whole blocks of 32 stays fp32 (with a load warning)");
ABSL_FLAG(bool, quantize_lm_head, false,
          "With --quantization: quantize the LM head as well (a tied one gets a quantized copy "
          "of the embedding)");
ABSL_FLAG(std::string, load_format, "auto",
          "How weights are loaded: auto or copy (read into memory the server owns: a checkpoint "
          "replaced under a running server cannot fault it), or mmap (tensors needing no fusing "
          "or dtype conversion are served from a read-only mapping of the file, as llama.cpp "
          "does: no load copy, but a file changed or truncated under the server can crash it "
          "with SIGBUS)");
ABSL_FLAG(int64_t, max_model_len, 0,
          "Longest sequence (prompt + generated tokens). 0: the model's context, capped with a "
          "warning to what --kv-cache-memory holds for one sequence. Set: start-up fails when "
          "it exceeds the model's context or the KV budget");
ABSL_FLAG(int32_t, num_threads, 0, "Kernel threads (0: all cores)");

ABSL_FLAG(std::string, speculative, "off",
          "Speculative decoding: off, ngram (prompt lookup), draft (--speculative-model: a small "
          "model with the same tokenizer), medusa (--speculative-model: Medusa heads) or mtp "
          "(--speculative-model: an MTP module). Greedy outputs are unchanged; sampled outputs "
          "keep their distribution (lossless rejection sampling)");
ABSL_FLAG(std::string, speculative_model, "",
          "The draft model, Medusa heads or MTP directory for --speculative draft|medusa|mtp");
ABSL_FLAG(int32_t, num_speculative_tokens, 4,
          "Most tokens drafted per step (the tree depth for medusa), 1 to 16");
ABSL_FLAG(std::string, medusa_tree, "default",
          "Medusa candidate tree: 'default', or ';'-separated paths of ','-separated top-k ranks "
          "per head (e.g. 0;1;0,0;0,0,0)");
ABSL_FLAG(std::string, typical_acceptance, "",
          "EPSILON,DELTA: accept Medusa candidates by typical acceptance (Medusa paper) for "
          "sampled requests instead of rejection sampling. Lossy: the output distribution "
          "changes. Empty: off");
ABSL_FLAG(std::string, generation_config, "auto",
          "Defaults of the sampling fields a request leaves unset (temperature, top_k, top_p, "
          "min_p, repetition_penalty): auto takes them from the model's generation_config.json "
          "(do_sample false: greedy); vllm ignores that file and uses the built-in ones "
          "(temperature 1, the rest off). Fields a request sets always win");
ABSL_FLAG(std::string, speculative_policy, "adaptive",
          "adaptive: draft only while it is measured to raise throughput (always at batch 1 "
          "while drafts are accepted); always: draft every step");

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on");
ABSL_FLAG(int32_t, port, 50051, "Port to listen on (0: pick a free port)");
ABSL_FLAG(int32_t, metrics_port, 8002,
          "Prometheus metrics port (HTTP, path /metrics) on --host (0: pick a free port; "
          "-1: no metrics endpoint). The default stays clear of Prometheus's own ports "
          "(9090-9094) and its exporters' (9100-9999)");
ABSL_FLAG(int32_t, http_port, 8000,
          "OpenAI-compatible HTTP API port on --host (/v1/completions, /v1/chat/completions, "
          "/v1/models, /health; docs/openai-api.md). 0: pick a free port; -1: no HTTP API");
ABSL_FLAG(std::string, chat_template, "",
          "Chat template file (Jinja) for /v1/chat/completions, instead of the model "
          "directory's chat_template.jinja or tokenizer_config.json's chat_template");
ABSL_FLAG(std::string, served_model_name, "",
          "The model id of the HTTP API (/v1/models; a request's `model` must match it). "
          "Default: the model directory's base name");
ABSL_FLAG(bool, expert_load_stats, false,
          "MoE models: count tokens routed to each expert per layer, reported by GetModelInfo "
          "(engine.expert_load) for debugging routing");
ABSL_FLAG(bool, no_prefix_caching, false,
          "Disable automatic prefix caching (reuse of the KV blocks of identical prompt prefixes)");
ABSL_FLAG(bool, no_chunked_prefill, false,
          "Compute each prompt in one step instead of in chunks under --max-num-batched-tokens "
          "(which must then be at least the model context)");
ABSL_FLAG(int32_t, max_num_partial_prefills, 1,
          "Most prompts being prefilled in chunks at the same time; a prompt that fits whole in "
          "the step's remaining budget may still start");
ABSL_FLAG(int32_t, max_queue_len, 1024,
          "Most waiting requests; more are refused with RESOURCE_EXHAUSTED");
ABSL_FLAG(double, drain_timeout, 30,
          "On SIGTERM/SIGINT/SIGHUP, seconds the streams in flight get to finish (readiness goes "
          "NOT_SERVING and new calls get UNAVAILABLE at once); the rest then end with "
          "UNAVAILABLE and the process exits 0. A second signal during the drain exits at once "
          "with 128 + the signal number");
ABSL_FLAG(double, watchdog_timeout, 60,
          "Readiness goes NOT_SERVING while requests are pending and no engine step completed "
          "for this many seconds, and SERVING again once steps complete (0: no watchdog)");
ABSL_FLAG(double, stream_write_timeout, 60,
          "A Generate stream whose client has not accepted a pending chunk for this many seconds "
          "(it stopped reading) is cancelled and its request aborted (0: never)");
ABSL_FLAG(inferd::server::LogFormat, log_format, inferd::server::LogFormat::kText,
          "Format of the daemon's stderr lines: text, or json (one object per line with ts, "
          "level, msg and fields); the stdout lines stay plain text");
ABSL_FLAG(bool, log_requests, false,
          "Log one line per finished request: request_id, token counts, finish_reason, status, "
          "ttft_s, e2e_s (never the prompt)");
ABSL_FLAG(std::string, tls_cert, "",
          "TLS for the gRPC port and --http-port: PEM file with the server certificate, then its "
          "chain (with "
          "--tls-key; the metrics port stays plain HTTP)");
ABSL_FLAG(std::string, tls_key, "", "PEM file with the unencrypted private key of --tls-cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "Mutual TLS: PEM file with the CA certificate(s) that must have signed every client's "
          "certificate (needs --tls-cert)");
ABSL_FLAG(std::string, api_key_file, "",
          "File of API keys, one a line ('#' comments, at least 16 characters): every call but "
          "grpc.health.v1.Health needs the metadata 'authorization: Bearer <key>', else "
          "UNAUTHENTICATED; on --http-port every path but /health needs the header, else 401 "
          "(needs --tls-cert)");
ABSL_FLAG(inferd::server::ByteSize, max_request_bytes, inferd::server::ByteSize{4ll << 20},
          "Largest request message accepted (a size like 4MiB); larger ones fail with "
          "RESOURCE_EXHAUSTED before they are parsed");
ABSL_FLAG(int32_t, max_tokens_limit, 0,
          "Most max_tokens one Generate request may ask (INVALID_ARGUMENT beyond it; an absent "
          "max_tokens is capped to it); 0: the model context");
ABSL_FLAG(int32_t, max_streams_per_connection, 128,
          "Most calls open at once on one client connection (HTTP/2 "
          "SETTINGS_MAX_CONCURRENT_STREAMS; clients queue the rest)");
ABSL_FLAG(std::string, debug_stall_file, "",
          "Debugging only: while this file exists the engine's step loop sleeps instead of "
          "stepping (a simulated stall, for testing the watchdog)");
ABSL_FLAG(double, debug_load_delay, 0,
          "Debugging only: seconds to wait (serving health NOT_SERVING) before loading the "
          "model, for testing readiness while loading");

ABSL_FLAG(std::string, prompt, "",
          "Prompt text, encoded with BOS as the tokenizer config says (empty text is [BOS])");
ABSL_FLAG(inferd::server::TokenIdList, prompt_ids, inferd::server::TokenIdList{},
          "Prompt as comma-separated token ids (1,2,3), fed exactly as given");
ABSL_FLAG(int32_t, max_tokens, 256, "Most tokens to generate");
// Not given: the model's default (--generation-config); the values here are
// the built-in ones.
ABSL_FLAG(float, temperature, 1.0f,
          "Sampling temperature (0: greedy). Not given: the model's default "
          "(--generation-config), if any, else the built-in one");
ABSL_FLAG(int32_t, top_k, 0,
          "Keep the k most likely tokens (0: disabled). Not given: the model's default, if any, "
          "else the built-in one");
ABSL_FLAG(float, top_p, 1.0f,
          "Nucleus sampling mass in (0, 1] (1: disabled). Not given: the model's default, if "
          "any, else the built-in one");
ABSL_FLAG(float, min_p, 0.0f,
          "Drop tokens below min_p * p(best) (0: disabled). Not given: the model's default, if "
          "any, else the built-in one");
ABSL_FLAG(std::optional<uint64_t>, seed, std::nullopt,
          "Sampling seed (default: a fresh random stream)");
ABSL_FLAG(std::string, stop, "", "Stop string; generation ends before it");
ABSL_FLAG(bool, ignore_eos, false, "Keep generating past EOS");
ABSL_FLAG(bool, json, false,
          "Print one JSON object (prompt_ids, output_ids, text, finish_reason, num_steps, "
          "draft_tokens, accepted_draft_tokens) as the last line");

namespace inferd::server {

const cli::SubcommandSpec& ServeSpec() {
  static const cli::SubcommandSpec* spec = new cli::SubcommandSpec{
      .name = "serve",
      .synopsis =
          "[--model DIR|FILE.gguf] [--tokenizer DIR] [--host 127.0.0.1] [--port 50051] "
          "[--metrics-port 8002] "
          "[--http-port N] [--chat-template FILE] [--served-model-name NAME] "
          "[--max-num-seqs N] "
          "[--max-num-batched-tokens N] [--kv-cache-memory SIZE] [--block-size 16] "
          "[--quantization auto|none|int8|q4] [--quantize-lm-head] [--cpu-isa "
          "auto|avx2|avx-vnni|avx512] "
          "[--dtype auto|fp32|bf16|fp16] [--kv-cache-dtype auto|fp32|bf16|fp16] "
          "[--load-format auto|copy|mmap] "
          "[--max-model-len N] [--max-queue-len N] [--num-threads N] [--no-prefix-caching] "
          "[--no-chunked-prefill] "
          "[--max-num-partial-prefills N] [--expert-load-stats] [--drain-timeout 30] "
          "[--watchdog-timeout 60] [--stream-write-timeout 60] [--log-format text|json] "
          "[--log-requests] "
          "[--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]] [--api-key-file FILE] "
          "[--max-request-bytes 4MiB] [--max-tokens-limit N] [--max-streams-per-connection 128] "
          "[--debug-stall-file PATH] [--debug-load-delay SECONDS] "
          "[--speculative off|ngram|draft|medusa|mtp] [--speculative-model DIR] "
          "[--num-speculative-tokens K] [--medusa-tree SPEC] [--typical-acceptance EPSILON,DELTA] "
          "[--speculative-policy adaptive|always] [--generation-config auto|vllm]",
      .summary =
          "Serve the model over gRPC (inferd.v1.Inference, grpc.health.v1.Health, "
          "reflection) and Prometheus metrics over HTTP (/metrics on --metrics-port). Prints "
          "'inferd: metrics on HOST:PORT' and 'inferd: listening on HOST:PORT (loading "
          "<model>)' before loading the model, then 'inferd: serving <model> on HOST:PORT' once "
          "ready; SIGINT/SIGTERM/SIGHUP drain it (--drain-timeout) and exit 0.",
      .flags = {"model",
                "tokenizer",
                "host",
                "port",
                "metrics_port",
                "http_port",
                "chat_template",
                "served_model_name",
                "max_num_seqs",
                "max_num_batched_tokens",
                "kv_cache_memory",
                "block_size",
                "device",
                "gpu_memory_utilization",
                "cpu_isa",
                "dtype",
                "quantization",
                "quantize_lm_head",
                "kv_cache_dtype",
                "load_format",
                "max_model_len",
                "max_queue_len",
                "num_threads",
                "no_prefix_caching",
                "no_chunked_prefill",
                "max_num_partial_prefills",
                "expert_load_stats",
                "drain_timeout",
                "watchdog_timeout",
                "stream_write_timeout",
                "log_format",
                "log_requests",
                "tls_cert",
                "tls_key",
                "tls_client_ca",
                "api_key_file",
                "max_request_bytes",
                "max_tokens_limit",
                "max_streams_per_connection",
                "debug_stall_file",
                "debug_load_delay",
                "speculative",
                "speculative_model",
                "num_speculative_tokens",
                "medusa_tree",
                "typical_acceptance",
                "speculative_policy",
                "generation_config"},
      .repeatable = {},
      .max_positional = 0,
  };
  return *spec;
}

const cli::SubcommandSpec& GenerateSpec() {
  static const cli::SubcommandSpec* spec = new cli::SubcommandSpec{
      .name = "generate",
      .synopsis =
          "[--model DIR|FILE.gguf] [--tokenizer DIR] (--prompt TEXT | --prompt-ids 1,2,3) "
          "[--max-tokens 256] "
          "[--quantization auto|none|int8|q4] [--quantize-lm-head] [--cpu-isa "
          "auto|avx2|avx-vnni|avx512] "
          "[--dtype auto|fp32|bf16|fp16] [--kv-cache-dtype auto|fp32|bf16|fp16] "
          "[--load-format auto|copy|mmap] "
          "[--max-model-len N] "
          "[--temperature T] [--top-k K] [--top-p P] [--min-p P] [--seed S] "
          "[--stop STR]... [--ignore-eos] [--json] "
          "[--json-schema FILE|TEXT | --json-object | --regex R | --grammar FILE | "
          "--choice A --choice B...] [--json-whitespace] "
          "[--speculative off|ngram|draft|medusa|mtp] "
          "[--speculative-model DIR] [--num-speculative-tokens K] [--medusa-tree SPEC] "
          "[--typical-acceptance EPSILON,DELTA] [--speculative-policy adaptive|always] "
          "[--generation-config auto|vllm]",
      .summary =
          "Run one request through the engine, without a server, and print the "
          "continuation as it streams (--json: one JSON object as the last line).",
      .flags = {"model",
                "tokenizer",
                "prompt",
                "prompt_ids",
                "max_tokens",
                "temperature",
                "top_k",
                "top_p",
                "min_p",
                "seed",
                "stop",
                "ignore_eos",
                "json",
                "json_schema",
                "json_object",
                "regex",
                "grammar",
                "choice",
                "json_whitespace",
                "max_num_seqs",
                "max_num_batched_tokens",
                "kv_cache_memory",
                "block_size",
                "device",
                "gpu_memory_utilization",
                "cpu_isa",
                "dtype",
                "quantization",
                "quantize_lm_head",
                "kv_cache_dtype",
                "load_format",
                "max_model_len",
                "num_threads",
                "no_prefix_caching",
                "no_chunked_prefill",
                "max_num_partial_prefills",
                "speculative",
                "speculative_model",
                "num_speculative_tokens",
                "medusa_tree",
                "typical_acceptance",
                "speculative_policy",
                "generation_config"},
      .repeatable = {"stop", "choice"},
      .max_positional = 0,
  };
  return *spec;
}

}  // namespace inferd::server
