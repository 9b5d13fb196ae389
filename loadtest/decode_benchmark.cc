// loadtest/decode_benchmark.cc — decode throughput of the in-process engine:
// tokens/s for one stream and aggregate tokens/s for N concurrent streams,
// measured side by side in one run (these machines are noisy: compare ratios
// from the same run, not numbers across runs).
//
//   build/decode_benchmark --model ../shared/models/tiny-llama [--streams 16]
//       [--max-tokens 256] [--repeats 3] [--threads 0] [--dtype auto|fp32|bf16|fp16]
//       [--kv-cache-dtype auto|fp32|bf16|fp16] [--quantization auto|none|int8|q4]
//       [--quantize-lm-head] [--max-model-len N] [--kv-cache-memory MiB]
//       [--device cpu|cuda|auto] [--gpu-memory-utilization F]
//       [--cpu-isa auto|avx2|avx-vnni|avx512]
//
// The engine flags (loadtest/engine_flags.h) mean what they mean for
// `inferd serve` (--model may be a .gguf file, as there). Also prints the load time, the weights'
// bytes, and the batch-1 weight-read bandwidth (weight bytes x tokens/s: every decoded token
// streams every weight once).
//
// Each stream decodes max-tokens tokens with EOS ignored, greedy, from a short
// prompt. Single-stream decode rate = (tokens - 1) / (time of last token -
// time of first token), so the prefill is not counted. Aggregate rate = all
// generated tokens / wall time from submission to the last token. Prints the
// median over repeats.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "engine/engine.h"
#include "loadtest/engine_flags.h"

namespace {

using Clock = std::chrono::steady_clock;
using inferd::engine::Engine;
using inferd::engine::EngineConfig;
using inferd::engine::OutputChannel;
using inferd::engine::Request;
using inferd::engine::RequestOutput;

struct Options {
  inferd::loadtest::EngineFlags engine;
  int streams = 16;
  int max_tokens = 256;
  int repeats = 3;
};

Options Parse(int argc, char** argv) {
  Options o;
  inferd::loadtest::ParseArgs(
      argc, argv, o.engine,
      [&](const std::string& a, const inferd::loadtest::NextArg& next) {
        if (a == "--streams") {
          o.streams = std::stoi(next());
        } else if (a == "--max-tokens") {
          o.max_tokens = std::stoi(next());
        } else if (a == "--repeats") {
          o.repeats = std::stoi(next());
        } else {
          return false;
        }
        return true;
      },
      "decode_benchmark [--streams N] [--max-tokens N] [--repeats N]");
  return o;
}

struct RunResult {
  double single_stream_tps = 0;  // per-stream decode rate (mean over streams)
  double aggregate_tps = 0;
};

// Per-stream bookkeeping, updated from the channel's notify callback on the
// engine thread (no reader threads competing for the cores).
struct StreamStats {
  Clock::time_point first{}, last{};
  int64_t tokens = 0;
};

// Runs `n` concurrent streams to completion.
RunResult Run(Engine& engine, int n, int max_tokens, int round) {
  std::vector<std::shared_ptr<OutputChannel>> channels(n);
  std::vector<StreamStats> stats(n);
  absl::BlockingCounter done(n);
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < n; ++i) {
    Request r;
    r.request_id = "bench-" + std::to_string(round) + "-" + std::to_string(i);
    const int32_t bos = engine.model_info().bos_id >= 0 ? engine.model_info().bos_id : 1;
    r.prompt_ids = {bos, static_cast<int32_t>(100 + i), static_cast<int32_t>(200 + 3 * i)};
    r.sampling.temperature = 0.0f;
    r.sampling.max_tokens = max_tokens;
    r.sampling.ignore_eos = true;
    channels[i] = std::make_shared<OutputChannel>();
    OutputChannel* ch = channels[i].get();
    StreamStats* st = &stats[i];
    ch->SetNotify([ch, st, &done] {
      std::optional<RequestOutput> o = ch->TryPop();
      if (!o.has_value()) return;
      if (!o->token_ids.empty()) {
        const Clock::time_point now = Clock::now();
        if (st->tokens == 0) st->first = now;
        st->last = now;
        st->tokens += static_cast<int64_t>(o->token_ids.size());
      }
      if (o->finished) done.DecrementCount();
    });
    if (absl::Status s = engine.Submit(std::move(r), channels[i]); !s.ok()) {
      std::fprintf(stderr, "submit failed: %s\n", s.ToString().c_str());
      std::exit(1);
    }
  }
  done.Wait();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  RunResult r;
  int64_t total = 0;
  for (const StreamStats& st : stats) {
    total += st.tokens;
    const double secs = std::chrono::duration<double>(st.last - st.first).count();
    r.single_stream_tps += (secs > 0 ? static_cast<double>(st.tokens - 1) / secs : 0) / n;
  }
  r.aggregate_tps = static_cast<double>(total) / wall;
  return r;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = Parse(argc, argv);
  EngineConfig cfg = opt.engine.ToConfig();
  cfg.max_num_seqs = std::max(opt.streams, 1);
  auto engine = Engine::Create(cfg);
  if (!engine.ok()) {
    std::fprintf(stderr, "decode_benchmark: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  Run(**engine, 1, 16, -1);  // warm-up: page in weights and the KV pool
  std::vector<double> one, many, many_per_stream;
  for (int rep = 0; rep < opt.repeats; ++rep) {
    one.push_back(Run(**engine, 1, opt.max_tokens, 2 * rep).single_stream_tps);
    RunResult m = Run(**engine, opt.streams, opt.max_tokens, 2 * rep + 1);
    many.push_back(m.aggregate_tps);
    many_per_stream.push_back(m.single_stream_tps);
  }
  const double b1 = Median(one);
  const double bn = Median(many);
  const inferd::engine::ModelInfo& info = (*engine)->model_info();
  std::printf(
      "weights %s (checkpoint %s, quantization %s), %.3f GB, loaded in %.2f s; kv cache %s, %lld "
      "tokens max\n",
      info.dtype.c_str(), info.checkpoint_dtype.c_str(), info.quantization.c_str(),
      info.weight_bytes / 1e9, info.load_seconds, info.kv_cache_dtype.c_str(),
      static_cast<long long>(info.max_context));
  std::printf("device %s; kv pool %.3f GB in %lld blocks; cpu kernels %s\n", info.device.c_str(),
              info.kv_cache_bytes / 1e9, static_cast<long long>(info.num_kv_blocks),
              info.cpu_kernels.c_str());
  std::printf("model %s (%s), %d tokens per stream, %d repeats (median), %d kernel threads\n",
              (*engine)->model_info().model_name.c_str(),
              (*engine)->model_info().architecture.c_str(), opt.max_tokens, opt.repeats,
              opt.engine.threads);
  std::printf("%-34s %12.1f tokens/s\n", "batch 1 decode", b1);
  std::printf("%-34s %12.1f GB/s\n", "batch 1 weight-read bandwidth", b1 * info.weight_bytes / 1e9);
  std::printf("%-34s %12.1f tokens/s (%.1f per stream)\n",
              ("aggregate, " + std::to_string(opt.streams) + " streams").c_str(), bn,
              Median(many_per_stream));
  std::printf("%-34s %12.2fx\n", "ratio", bn / b1);
  return 0;
}
