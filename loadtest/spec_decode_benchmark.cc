// loadtest/spec_decode_benchmark.cc — speculative decoding speed-up, measured
// side by side: three in-process engines on the same model (speculation off,
// --speculative-policy always, --speculative-policy adaptive) run the same
// closed-loop workload of B concurrent greedy streams, interleaved within
// each repeat so machine noise hits all three alike. Reports aggregate
// output tokens/s (median over repeats), the ratios to speculation off
// (median of each repeat's ratio, with the quartiles: a ratio of runs a
// second apart cancels the machine's slow drifts), and tokens committed per
// step (verification steps only). Each batch size gets one unmeasured
// warm-up round per engine first. A run is as many rounds of B streams as
// make at least --min-streams streams (64 by default: at batch 1 one stream
// takes a few milliseconds, less than the time slice of another process on
// a shared machine, so a one-stream run measures the machine, not the engine).
//
//   build/spec_decode_benchmark --model ../shared/models/stories260K
//       --speculative draft --speculative-model ../shared/models/stories260K-draft
//       [--batches 1,4,16,64] [--max-tokens 128] [--repeats 3] [--k 4]
//       [--prompts FILE.json] [--repetitive] [--threads N] [--medusa-tree SPEC]
//       [--min-streams 64]
//
// Prompts: --prompts reads acceptance.heldout_prompts of a golden file like
// ../shared/golden/stories260K-spec.json (token ids); --repetitive builds
// prompts that repeat a 12-token pattern 4 times (the n-gram proposer's
// workload); otherwise short fixed prompts.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/blocking_counter.h"
#include "engine/engine.h"
#include "nlohmann/json.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using inferd::engine::Engine;
using inferd::engine::EngineConfig;
using inferd::engine::OutputChannel;
using inferd::engine::Request;
using inferd::engine::RequestOutput;

struct Options {
  std::string model = "models/stories260K";
  std::string method = "ngram";
  std::string spec_model;
  std::string medusa_tree = "default";
  std::vector<int> batches = {1, 4, 16, 64};
  int max_tokens = 128;
  int repeats = 3;
  int k = 4;
  int threads = 0;
  int min_streams = 64;
  std::string prompts_file;
  bool repetitive = false;
};

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: spec_decode_benchmark [--model DIR] --speculative METHOD "
               "[--speculative-model DIR] [--batches 1,4,16,64] [--max-tokens N] [--repeats N] "
               "[--k N] [--prompts FILE] [--repetitive] [--threads N] [--medusa-tree SPEC] "
               "[--min-streams N]\n");
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    auto number = [&]() {
      int v = 0;
      if (!absl::SimpleAtoi(next(), &v)) Usage();
      return v;
    };
    if (a == "--model") {
      o.model = next();
    } else if (a == "--speculative") {
      o.method = next();
    } else if (a == "--speculative-model") {
      o.spec_model = next();
    } else if (a == "--medusa-tree") {
      o.medusa_tree = next();
    } else if (a == "--batches") {
      o.batches.clear();
      for (absl::string_view b : absl::StrSplit(next(), ',')) {
        int v = 0;
        if (!absl::SimpleAtoi(b, &v) || v < 1) Usage();
        o.batches.push_back(v);
      }
    } else if (a == "--max-tokens") {
      o.max_tokens = number();
    } else if (a == "--repeats") {
      o.repeats = number();
    } else if (a == "--k") {
      o.k = number();
    } else if (a == "--threads") {
      o.threads = number();
    } else if (a == "--min-streams") {
      o.min_streams = number();
    } else if (a == "--prompts") {
      o.prompts_file = next();
    } else if (a == "--repetitive") {
      o.repetitive = true;
    } else {
      Usage();
    }
  }
  return o;
}

std::vector<std::vector<int32_t>> Prompts(const Options& o, int32_t bos, int64_t vocab) {
  std::vector<std::vector<int32_t>> out;
  if (!o.prompts_file.empty()) {
    std::ifstream in(o.prompts_file);
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.contains("acceptance")) {
      std::fprintf(stderr, "%s: no acceptance.heldout_prompts\n", o.prompts_file.c_str());
      std::exit(1);
    }
    for (const auto& p : j["acceptance"]["heldout_prompts"]) {
      out.push_back(p.get<std::vector<int32_t>>());
    }
    return out;
  }
  for (int i = 0; i < 64; ++i) {
    std::vector<int32_t> p = {bos};
    if (o.repetitive) {
      for (int r = 0; r < 4; ++r) {
        for (int t = 0; t < 12; ++t) {
          p.push_back(static_cast<int32_t>(3 + (t * 37 + i * 101) % (vocab - 3)));
        }
      }
    } else {
      p.push_back(static_cast<int32_t>(3 + (100 + i) % (vocab - 3)));
      p.push_back(static_cast<int32_t>(3 + (200 + 3 * i) % (vocab - 3)));
    }
    out.push_back(std::move(p));
  }
  return out;
}

struct RunResult {
  int64_t tokens = 0;
  double seconds = 0;
  int64_t verify_tokens = 0, verify_steps = 0;  // per stream: tokens - 1, steps - 1
  double tokens_per_s() const { return static_cast<double>(tokens) / seconds; }
  double tokens_per_step() const {
    return verify_steps > 0 ? static_cast<double>(verify_tokens) / verify_steps : 0;
  }
};

// One round: n concurrent streams, until all finished; stream i gets prompt
// first + i (cyclically).
RunResult Round(Engine& engine, const std::vector<std::vector<int32_t>>& prompts, int first, int n,
                int max_tokens, const std::string& tag) {
  std::vector<std::shared_ptr<OutputChannel>> channels(n);
  std::vector<int64_t> tokens(n, 0), steps(n, 0);
  absl::BlockingCounter done(n);
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < n; ++i) {
    Request r;
    r.request_id = tag + "-" + std::to_string(i);
    r.prompt_ids = prompts[(first + i) % prompts.size()];
    r.sampling.temperature = 0.0f;
    r.sampling.max_tokens = max_tokens;
    r.sampling.ignore_eos = true;
    channels[i] = std::make_shared<OutputChannel>();
    OutputChannel* ch = channels[i].get();
    int64_t* t = &tokens[i];
    int64_t* s = &steps[i];
    ch->SetNotify([ch, t, s, &done] {
      std::optional<RequestOutput> o = ch->TryPop();
      if (!o.has_value()) return;
      *t += static_cast<int64_t>(o->token_ids.size());
      if (o->finished) {
        *s = o->usage.num_steps;
        done.DecrementCount();
      }
    });
    if (absl::Status st = engine.Submit(std::move(r), channels[i]); !st.ok()) {
      std::fprintf(stderr, "submit failed: %s\n", st.ToString().c_str());
      std::exit(1);
    }
  }
  done.Wait();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  RunResult r;
  r.seconds = wall;
  for (int i = 0; i < n; ++i) {
    r.tokens += tokens[i];
    r.verify_tokens += tokens[i] - 1;
    r.verify_steps += steps[i] - 1;
  }
  return r;
}

// `rounds` rounds of n streams, one after the other, through the prompts in
// turn (round 0 takes the first n, as a one-round run does).
RunResult Run(Engine& engine, const std::vector<std::vector<int32_t>>& prompts, int n, int rounds,
              int max_tokens, const std::string& tag) {
  RunResult total;
  for (int i = 0; i < rounds; ++i) {
    const RunResult r = Round(engine, prompts, i * n, n, max_tokens, tag + "n" + std::to_string(i));
    total.tokens += r.tokens;
    total.seconds += r.seconds;
    total.verify_tokens += r.verify_tokens;
    total.verify_steps += r.verify_steps;
  }
  return total;
}

// The q-quantile (0.5: the median) by the nearest rank.
double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}
double Median(std::vector<double> v) { return Quantile(std::move(v), 0.5); }

// Each repeat's ratio of engine a to engine b: "1.00x [0.97, 1.03]" (the
// median and the quartiles).
std::string RatioCell(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] / b[i];
  char cell[64];
  std::snprintf(cell, sizeof(cell), "%.2fx [%.2f, %.2f]", Median(r), Quantile(r, 0.25),
                Quantile(r, 0.75));
  return cell;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = Parse(argc, argv);
  const int max_batch = *std::max_element(opt.batches.begin(), opt.batches.end());
  auto make = [&](const char* method, inferd::engine::SpecPolicy policy) {
    EngineConfig cfg;
    cfg.model_dir = opt.model;
    cfg.num_threads = opt.threads;
    cfg.max_num_seqs = max_batch;
    cfg.kv_cache_memory_bytes = 512ll << 20;
    absl::StatusOr<inferd::engine::SpecMethod> m = inferd::engine::ParseSpecMethod(method);
    if (!m.ok()) {
      std::fprintf(stderr, "%s\n", m.status().ToString().c_str());
      std::exit(2);
    }
    cfg.speculative.method = *m;
    if (*m != inferd::engine::SpecMethod::kOff && *m != inferd::engine::SpecMethod::kNgram) {
      cfg.speculative.model_dir = opt.spec_model;
    }
    cfg.speculative.num_speculative_tokens = opt.k;
    cfg.speculative.medusa_tree = opt.medusa_tree;
    cfg.speculative.policy = policy;
    auto e = Engine::Create(cfg);
    if (!e.ok()) {
      std::fprintf(stderr, "spec_decode_benchmark: %s\n", e.status().ToString().c_str());
      std::exit(1);
    }
    return *std::move(e);
  };
  using inferd::engine::SpecPolicy;
  std::unique_ptr<Engine> engines[3] = {make("off", SpecPolicy::kAlways),
                                        make(opt.method.c_str(), SpecPolicy::kAlways),
                                        make(opt.method.c_str(), SpecPolicy::kAdaptive)};
  const inferd::engine::ModelInfo& info = engines[0]->model_info();
  const auto prompts = Prompts(opt, info.bos_id >= 0 ? info.bos_id : 1, info.vocab_size);
  for (auto& e : engines) Run(*e, prompts, 2, 1, 16, "warm");

  std::printf(
      "model %s, --speculative %s%s%s, k=%d, %d tokens per stream, >= %d streams per run, %d "
      "repeats (median), %s prompts\n",
      info.model_name.c_str(), opt.method.c_str(), opt.spec_model.empty() ? "" : " ",
      opt.spec_model.c_str(), opt.k, opt.max_tokens, opt.min_streams, opt.repeats,
      !opt.prompts_file.empty() ? "held-out" : (opt.repetitive ? "repetitive" : "short"));
  std::printf(
      "| batch | off tok/s | always tok/s | always / off | tokens/step (always) | "
      "adaptive tok/s | adaptive / off | tokens/step (adaptive) |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (int batch : opt.batches) {
    std::vector<double> tps[3], per_step[3];
    const int rounds = std::max(1, (opt.min_streams + batch - 1) / batch);
    // One unmeasured round per engine at this batch: the adaptive policy
    // measures its arms, as a long-running server has long done.
    for (int e = 0; e < 3; ++e) {
      Run(*engines[e], prompts, batch, 1, opt.max_tokens,
          "w" + std::to_string(batch) + "e" + std::to_string(e));
    }
    for (int rep = 0; rep < opt.repeats; ++rep) {
      for (int e = 0; e < 3; ++e) {
        // Rotate the order each repeat so no engine always runs first.
        const int idx = (e + rep) % 3;
        const RunResult r = Run(
            *engines[idx], prompts, batch, rounds, opt.max_tokens,
            "b" + std::to_string(batch) + "r" + std::to_string(rep) + "e" + std::to_string(idx));
        tps[idx].push_back(r.tokens_per_s());
        per_step[idx].push_back(r.tokens_per_step());
      }
    }
    std::printf("| %d | %.0f | %.0f | %s | %.2f | %.0f | %s | %.2f |\n", batch, Median(tps[0]),
                Median(tps[1]), RatioCell(tps[1], tps[0]).c_str(), Median(per_step[1]),
                Median(tps[2]), RatioCell(tps[2], tps[0]).c_str(), Median(per_step[2]));
    std::fflush(stdout);
  }
  return 0;
}
