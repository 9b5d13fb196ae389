// loadtest/prefill_benchmark.cc — prompt processing (prefill) throughput of
// the in-process engine: prompt tokens/s for one prompt of each length, the
// counterpart of llama.cpp's `llama-bench -p N` (pp512, pp2048).
//
//   build/prefill_benchmark --model /work/models/llama1b --dtype bf16 --threads 2
//       [--tokens 512,2048] [--repeats 3] [--max-num-batched-tokens 2048]
//       [--no-chunked-prefill] [engine flags: loadtest/engine_flags.h]
//
// Each run submits one request whose prompt is N random token ids (fresh ones
// every run, and the prefix cache off, so nothing is reused), greedy,
// max_tokens 1, and times submission to the first token: the whole prompt's
// forward pass, chunked by --max-num-batched-tokens as the server would
// (llama-bench's default batch is 2,048 with 512-token micro-batches), plus
// one LM-head row and one sampling step. Prefill rate = N / that time;
// prints each run and the median per length. A short prompt first warms up
// the weights and the KV pool.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "engine/engine.h"
#include "loadtest/engine_flags.h"

namespace {

using Clock = std::chrono::steady_clock;
using inferd::engine::Engine;
using inferd::engine::OutputChannel;
using inferd::engine::Request;
using inferd::engine::RequestOutput;

struct Options {
  inferd::loadtest::EngineFlags engine;
  std::vector<int64_t> tokens = {512, 2048};
  int repeats = 3;
  int32_t max_num_batched_tokens = 2048;
  bool chunked_prefill = true;
};

Options Parse(int argc, char** argv) {
  Options o;
  inferd::loadtest::ParseArgs(
      argc, argv, o.engine,
      [&](const std::string& a, const inferd::loadtest::NextArg& next) {
        if (a == "--tokens") {
          o.tokens.clear();
          std::stringstream list(next());
          for (std::string item; std::getline(list, item, ',');) {
            const int64_t n = std::atoll(item.c_str());
            if (n <= 0) {
              std::fprintf(stderr, "--tokens wants positive counts, got \"%s\"\n", item.c_str());
              std::exit(2);
            }
            o.tokens.push_back(n);
          }
          return !o.tokens.empty();
        }
        if (a == "--repeats") {
          o.repeats = std::max(1, std::stoi(next()));
        } else if (a == "--max-num-batched-tokens") {
          o.max_num_batched_tokens = std::stoi(next());
        } else if (a == "--no-chunked-prefill") {
          o.chunked_prefill = false;
        } else {
          return false;
        }
        return true;
      },
      "prefill_benchmark [--tokens 512,2048] [--repeats N] [--max-num-batched-tokens N] "
      "[--no-chunked-prefill]");
  return o;
}

// Seconds from submission to the first token of one request whose prompt is
// `n` random ids (BOS first).
double TimeToFirstToken(Engine& engine, int64_t n, std::mt19937& rng, int run) {
  const inferd::engine::ModelInfo& info = engine.model_info();
  std::uniform_int_distribution<int32_t> id(3, static_cast<int32_t>(info.vocab_size) - 1);
  Request r;
  r.request_id = "prefill-" + std::to_string(run);
  r.prompt_ids.reserve(static_cast<size_t>(n));
  r.prompt_ids.push_back(info.bos_id >= 0 ? info.bos_id : 1);
  while (static_cast<int64_t>(r.prompt_ids.size()) < n) r.prompt_ids.push_back(id(rng));
  r.sampling.temperature = 0.0f;
  r.sampling.max_tokens = 1;
  r.sampling.ignore_eos = true;
  auto channel = std::make_shared<OutputChannel>();
  OutputChannel* ch = channel.get();
  // Set on the engine thread; read here only after `done` (which is the
  // callback's last action: nothing of this frame is touched after it).
  absl::Notification done;
  Clock::time_point at{};
  bool got_token = false;
  std::string error;
  ch->SetNotify([&] {
    while (std::optional<RequestOutput> o = ch->TryPop()) {
      if (!o->token_ids.empty() && !got_token) {
        at = Clock::now();
        got_token = true;
      }
      if (o->finished) {
        if (!got_token) error = "finished without a token: " + o->status.ToString();
        done.Notify();
        return;
      }
    }
  });
  const Clock::time_point start = Clock::now();
  if (absl::Status s = engine.Submit(std::move(r), channel); !s.ok()) {
    std::fprintf(stderr, "prefill_benchmark: submit failed: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  done.WaitForNotification();
  if (!error.empty()) {
    std::fprintf(stderr, "prefill_benchmark: %s\n", error.c_str());
    std::exit(1);
  }
  return std::chrono::duration<double>(at - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = Parse(argc, argv);
  inferd::engine::EngineConfig cfg = opt.engine.ToConfig();
  const int64_t longest = *std::max_element(opt.tokens.begin(), opt.tokens.end());
  if (cfg.max_model_len == 0) cfg.max_model_len = longest + 16;
  cfg.max_num_seqs = 1;
  cfg.max_num_batched_tokens =
      opt.chunked_prefill
          ? opt.max_num_batched_tokens
          : static_cast<int32_t>(std::max<int64_t>(opt.max_num_batched_tokens, longest));
  cfg.enable_chunked_prefill = opt.chunked_prefill;
  cfg.enable_prefix_caching = false;
  auto engine = Engine::Create(cfg);
  if (!engine.ok()) {
    std::fprintf(stderr, "prefill_benchmark: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  const inferd::engine::ModelInfo& info = (*engine)->model_info();
  std::printf("model %s (%s), weights %s (quantization %s), %.3f GB; kv cache %s\n",
              info.model_name.c_str(), info.architecture.c_str(), info.dtype.c_str(),
              info.quantization.c_str(), info.weight_bytes / 1e9, info.kv_cache_dtype.c_str());
  std::printf("device %s; cpu kernels %s\n", info.device.c_str(), info.cpu_kernels.c_str());
  std::printf("max_num_batched_tokens %d (chunked prefill %s), %d repeats (median)\n",
              cfg.max_num_batched_tokens, opt.chunked_prefill ? "on" : "off", opt.repeats);
  std::mt19937 rng(20261207);
  int run = 0;
  TimeToFirstToken(**engine, std::min<int64_t>(64, longest), rng, run++);  // warm-up
  for (int64_t n : opt.tokens) {
    std::vector<double> rates;
    std::string each;
    for (int rep = 0; rep < opt.repeats; ++rep) {
      const double s = TimeToFirstToken(**engine, n, rng, run++);
      rates.push_back(static_cast<double>(n) / s);
      each += (each.empty() ? "" : ", ") + std::to_string(static_cast<int64_t>(rates.back()));
    }
    std::sort(rates.begin(), rates.end());
    std::printf("%-20s %10.1f tokens/s   (runs: %s)\n", ("prefill " + std::to_string(n)).c_str(),
                rates[rates.size() / 2], each.c_str());
  }
  return 0;
}
