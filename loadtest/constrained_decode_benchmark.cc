// loadtest/constrained_decode_benchmark.cc — what a JSON Schema constraint
// costs in decode throughput, measured side by side: one in-process engine
// runs the same closed-loop workload of B concurrent greedy streams
// unconstrained and with a typical schema (Request::constraint), the two
// interleaved within each repeat (order alternating) so machine noise hits
// both alike. Reports aggregate output tokens/s (median over repeats), the
// constrained / unconstrained ratio (median of the per-repeat ratios, with
// quartiles), mean output tokens per stream, and how many constrained
// outputs that ended with "stop" parse as JSON (a sanity check, not a
// validator: the engine's tests validate against the schema).
//
//   build/constrained_decode_benchmark [--model ../shared/models/tiny-llama]
//       [--batches 1,16] [--max-tokens 128] [--repeats 5] [--threads N]
//       [--schema FILE] [--whitespace]
//
// The issue's target: a cost of at most 10% at batch 16.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/blocking_counter.h"
#include "engine/engine.h"
#include "engine/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using inferd::engine::Constraint;
using inferd::engine::Engine;
using inferd::engine::EngineConfig;
using inferd::engine::FinishReason;
using inferd::engine::OutputChannel;
using inferd::engine::Request;
using inferd::engine::RequestOutput;

// A typical extraction schema: nested object, array, required and optional
// properties, an enum, numbers; strings and arrays bounded so that a
// random-weight model's output ends (a complete object) within max_tokens.
constexpr char kTypicalSchema[] = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "maxLength": 24},
    "age": {"type": "integer", "minimum": 0, "maximum": 150},
    "email": {"type": "string", "maxLength": 32},
    "score": {"type": "number"},
    "status": {"enum": ["active", "inactive", "pending"]},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 4},
    "address": {
      "type": "object",
      "properties": {"street": {"type": "string", "maxLength": 32},
                     "city": {"type": "string", "maxLength": 24},
                     "zip": {"type": "string", "maxLength": 10}},
      "required": ["street", "city"],
      "additionalProperties": false
    }
  },
  "required": ["name", "age", "status", "tags"],
  "additionalProperties": false
})";

struct Options {
  std::string model = "../shared/models/tiny-llama";
  std::vector<int> batches = {1, 16};
  int max_tokens = 128;
  int repeats = 5;
  int threads = 0;
  std::string schema_file;
  bool whitespace = false;
  bool equal_lengths = true;  // --free-lengths: unconstrained streams run to max_tokens
};

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: constrained_decode_benchmark [--model DIR] [--batches 1,16] "
               "[--max-tokens N] [--repeats N] [--threads N] [--schema FILE] [--whitespace] "
               "[--free-lengths]\n");
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
      if (!absl::SimpleAtoi(next(), &v) || v < 0) Usage();
      return v;
    };
    if (a == "--model") {
      o.model = next();
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
      o.repeats = std::max(1, number());
    } else if (a == "--threads") {
      o.threads = number();
    } else if (a == "--schema") {
      o.schema_file = next();
    } else if (a == "--whitespace") {
      o.whitespace = true;
    } else if (a == "--free-lengths") {
      o.equal_lengths = false;
    } else {
      Usage();
    }
  }
  return o;
}

struct RunResult {
  double tokens_per_s = 0;
  double mean_tokens = 0;
  int stopped = 0;           // finished with "stop"
  int valid_json = 0;        // of those, parse as JSON
  std::string first_text;    // stream 0's output, to show
  std::vector<int> lengths;  // tokens per stream
};

// `lengths` (optional): stream i's max_tokens, so that unconstrained
// streams stop where the constrained ones did and both runs have the same
// batch size at every step.
RunResult Run(Engine& engine, const inferd::engine::Tokenizer& tok, int32_t bos, int64_t vocab,
              int n, int max_tokens, const Constraint& constraint, const std::string& tag,
              const std::vector<int>* lengths = nullptr) {
  std::vector<std::shared_ptr<OutputChannel>> channels(static_cast<size_t>(n));
  std::vector<std::vector<int32_t>> ids(static_cast<size_t>(n));
  std::vector<FinishReason> reasons(static_cast<size_t>(n), FinishReason::kNone);
  absl::BlockingCounter done(n);
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < n; ++i) {
    Request r;
    r.request_id = tag + "-" + std::to_string(i);
    r.prompt_ids = {bos, static_cast<int32_t>(3 + (100 + 7 * i) % (vocab - 3)),
                    static_cast<int32_t>(3 + (200 + 13 * i) % (vocab - 3))};
    r.sampling.temperature = 0.0f;
    r.sampling.max_tokens = lengths != nullptr ? (*lengths)[static_cast<size_t>(i)] : max_tokens;
    r.constraint = constraint;
    channels[static_cast<size_t>(i)] = std::make_shared<OutputChannel>();
    OutputChannel* ch = channels[static_cast<size_t>(i)].get();
    std::vector<int32_t>* out = &ids[static_cast<size_t>(i)];
    FinishReason* reason = &reasons[static_cast<size_t>(i)];
    ch->SetNotify([ch, out, reason, &done] {
      std::optional<RequestOutput> o = ch->TryPop();
      if (!o.has_value()) return;
      out->insert(out->end(), o->token_ids.begin(), o->token_ids.end());
      if (o->finished) {
        *reason = o->finish_reason;
        done.DecrementCount();
      }
    });
    if (absl::Status st = engine.Submit(std::move(r), channels[static_cast<size_t>(i)]); !st.ok()) {
      std::fprintf(stderr, "submit failed: %s\n", st.ToString().c_str());
      std::exit(1);
    }
  }
  done.Wait();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  RunResult res;
  int64_t total = 0;
  for (int i = 0; i < n; ++i) {
    total += static_cast<int64_t>(ids[static_cast<size_t>(i)].size());
    if (reasons[static_cast<size_t>(i)] == FinishReason::kStop) {
      ++res.stopped;
      const std::string text = tok.Decode(ids[static_cast<size_t>(i)], true);
      if (!nlohmann::json::parse(text, nullptr, false).is_discarded()) {
        ++res.valid_json;
      } else if (constraint.active()) {
        std::fprintf(stderr, "finished \"stop\" but not JSON: %s\n", text.c_str());
      }
    }
  }
  res.first_text = tok.Decode(ids[0], true);
  for (const std::vector<int32_t>& stream : ids)
    res.lengths.push_back(static_cast<int>(stream.size()));
  res.tokens_per_s = static_cast<double>(total) / wall;
  res.mean_tokens = static_cast<double>(total) / n;
  return res;
}

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = Parse(argc, argv);
  std::string schema = kTypicalSchema;
  if (!opt.schema_file.empty()) {
    std::ifstream in(opt.schema_file);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", opt.schema_file.c_str());
      return 1;
    }
    schema = ss.str();
  }
  EngineConfig cfg;
  cfg.model_dir = opt.model;
  cfg.num_threads = opt.threads;
  cfg.max_num_seqs = *std::max_element(opt.batches.begin(), opt.batches.end());
  cfg.kv_cache_memory_bytes = 512ll << 20;
  auto engine = Engine::Create(cfg);
  if (!engine.ok()) {
    std::fprintf(stderr, "constrained_decode_benchmark: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  auto tok = inferd::engine::Tokenizer::FromDirectory(opt.model);
  if (!tok.ok()) {
    std::fprintf(stderr, "constrained_decode_benchmark: %s\n", tok.status().ToString().c_str());
    return 1;
  }
  const inferd::engine::ModelInfo& info = (*engine)->model_info();
  const int32_t bos = info.bos_id >= 0 ? info.bos_id : 1;
  Constraint none;
  Constraint json;
  json.kind = Constraint::Kind::kJsonSchema;
  json.text = schema;
  json.allow_whitespace = opt.whitespace;
  // Warm-up: the schema compiles (and is cached) here, not in a measured run.
  Run(**engine, **tok, bos, info.vocab_size, 2, 16, none, "warm-u");
  Run(**engine, **tok, bos, info.vocab_size, 2, 16, json, "warm-c");

  std::printf("model %s (%s), greedy, %d tokens max per stream, %d repeats (median), %s schema%s\n",
              info.model_name.c_str(), info.device.c_str(), opt.max_tokens, opt.repeats,
              opt.schema_file.empty() ? "the typical" : opt.schema_file.c_str(),
              opt.whitespace ? ", JSON whitespace allowed" : ", compact");
  std::printf(
      "| batch | unconstrained tok/s | constrained tok/s | constrained / unconstrained | "
      "cost | tokens/stream (u / c) | constrained outputs: stop / JSON |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  std::vector<std::string> samples;
  for (int batch : opt.batches) {
    std::vector<double> u_tps, c_tps, ratio, u_len, c_len;
    int stopped = 0, valid = 0, outputs = 0;
    std::string sample;
    // Greedy: the constrained streams' lengths are the same every run; the
    // unconstrained streams are cut to them (else the constrained batch
    // drains earlier and runs its last steps at a smaller batch).
    const RunResult warm =
        Run(**engine, **tok, bos, info.vocab_size, batch, opt.max_tokens, json, "wc");
    const std::vector<int>* lengths = opt.equal_lengths ? &warm.lengths : nullptr;
    Run(**engine, **tok, bos, info.vocab_size, batch, opt.max_tokens, none, "wu", lengths);
    for (int rep = 0; rep < opt.repeats; ++rep) {
      RunResult u, c;
      const std::string tag = "b" + std::to_string(batch) + "r" + std::to_string(rep);
      if (rep % 2 == 0) {
        u = Run(**engine, **tok, bos, info.vocab_size, batch, opt.max_tokens, none, tag + "u",
                lengths);
        c = Run(**engine, **tok, bos, info.vocab_size, batch, opt.max_tokens, json, tag + "c");
      } else {
        c = Run(**engine, **tok, bos, info.vocab_size, batch, opt.max_tokens, json, tag + "c");
        u = Run(**engine, **tok, bos, info.vocab_size, batch, opt.max_tokens, none, tag + "u",
                lengths);
      }
      u_tps.push_back(u.tokens_per_s);
      c_tps.push_back(c.tokens_per_s);
      ratio.push_back(c.tokens_per_s / u.tokens_per_s);
      u_len.push_back(u.mean_tokens);
      c_len.push_back(c.mean_tokens);
      sample = c.first_text;
      stopped += c.stopped;
      valid += c.valid_json;
      outputs += batch;
    }
    const double r = Quantile(ratio, 0.5);
    std::printf(
        "| %d | %.0f | %.0f | %.3fx [%.3f, %.3f] | %.1f%% | %.0f / %.0f | %d / %d of %d |\n", batch,
        Quantile(u_tps, 0.5), Quantile(c_tps, 0.5), r, Quantile(ratio, 0.25), Quantile(ratio, 0.75),
        (1.0 - r) * 100.0, Quantile(u_len, 0.5), Quantile(c_len, 0.5), stopped, valid, outputs);
    samples.push_back("batch " + std::to_string(batch) + ", stream 0, constrained: " + sample);
    std::fflush(stdout);
  }
  for (const std::string& s : samples) std::printf("%s\n", s.c_str());
  return 0;
}
