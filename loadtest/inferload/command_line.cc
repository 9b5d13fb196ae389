// loadtest/inferload/command_line.cc
#include "loadtest/inferload/command_line.h"

#include <cmath>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tools/cli/server_address.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051",
          "gRPC address of the inferd server (HOST:PORT): the streams with --protocol grpc, "
          "the model facts and token counts with either protocol");
ABSL_FLAG(std::string, protocol, "grpc",
          "grpc (Generate streams on --addr) or openai (POST /v1/completions with stream: true "
          "on --http-addr)");
ABSL_FLAG(std::string, http_addr, "",
          "--protocol openai: the server's HTTP address (HOST:PORT, inferd serve --http-port)");
ABSL_FLAG(std::optional<int64_t>, num_requests, std::nullopt,
          "Requests to send (required, except with --trace: default every line of the trace)");
ABSL_FLAG(std::optional<double>, request_rate, std::nullopt,
          "Open loop: requests per second on average ('inf': all at once)");
ABSL_FLAG(std::optional<int32_t>, concurrency, std::nullopt,
          "Closed loop: keep this many requests in flight");
ABSL_FLAG(double, burstiness, 1.0,
          "With --request-rate: gamma shape of the inter-arrival gaps (1 = Poisson; < 1 burstier)");
ABSL_FLAG(std::string, workload, "random",
          "random, shared-prefix, or a JSONL dataset file (prompt, optional max_tokens)");
ABSL_FLAG(std::string, trace, "",
          "Replay a JSONL trace (arrival_s or timestamp; prompt or prompt_len; optional "
          "max_tokens)");
ABSL_FLAG(std::optional<int32_t>, input_len, std::nullopt,
          "random: mean prompt tokens, BOS included (default min(256, context/4))");
ABSL_FLAG(std::optional<int32_t>, output_len, std::nullopt,
          "Mean tokens to generate (default min(128, context/4)); datasets and traces: for "
          "lines without max_tokens");
ABSL_FLAG(double, input_len_range, 0.25,
          "Prompt (and shared-prefix suffix) lengths are uniform in [L(1-r), L(1+r)]; 0 = fixed");
ABSL_FLAG(double, output_len_range, 0.25,
          "Output lengths are uniform in [L(1-r), L(1+r)]; 0 = fixed");
ABSL_FLAG(std::optional<int32_t>, num_prefixes, std::nullopt,
          "shared-prefix: distinct prefixes (default 4)");
ABSL_FLAG(std::optional<int32_t>, prefix_len, std::nullopt,
          "shared-prefix: tokens per prefix, BOS included (default min(512, context/2))");
ABSL_FLAG(std::optional<int32_t>, suffix_len, std::nullopt,
          "shared-prefix: mean tokens of the random suffix (default min(64, context/8))");
ABSL_FLAG(std::optional<double>, slo_ttft, std::nullopt,
          "Goodput SLO: time to first token, seconds");
ABSL_FLAG(std::optional<double>, slo_tpot, std::nullopt,
          "Goodput SLO: time per output token, seconds");
ABSL_FLAG(uint64_t, seed, 0, "Seed of the arrival times and the random prompts");
ABSL_FLAG(std::string, json_out, "", "Write the results as JSON to this file");
ABSL_FLAG(double, max_duration, 600,
          "Hard bound in seconds: then calls in flight are cancelled (counted as CANCELLED)");
ABSL_FLAG(bool, no_progress, false, "No progress line on stderr (also off when not a terminal)");
ABSL_FLAG(int32_t, priority, 0, "GenerateRequest.priority of every request (lower first)");
ABSL_FLAG(float, temperature, 0.0f, "Sampling temperature of every request (0: greedy)");

namespace inferd::inferload {

namespace {

absl::Status Bad(const std::string& message) { return absl::InvalidArgumentError(message); }

bool Given(const cli::ParsedArgs& args, const char* name) { return args.specified.count(name) > 0; }

// Bounds far past any real run; they keep a typo from sizing an allocation
// (prompts of --input-len tokens, a schedule of --num-requests arrivals).
constexpr int kMaxLen = 1 << 20;
constexpr int64_t kMaxNumRequests = 10'000'000;
constexpr int kMaxConcurrency = 65536;

// An optional int32 flag that must be in [min, kMaxLen] when given.
absl::StatusOr<std::optional<int>> AtLeast(const std::optional<int32_t>& value, const char* flag,
                                           int min) {
  if (value.has_value() && (*value < min || *value > kMaxLen)) {
    return Bad(absl::StrCat("--", flag, " must be in [", min, ", ", kMaxLen, "], got ", *value));
  }
  return value;
}

absl::Status CheckRange(double value, const char* flag) {
  if (!(value >= 0 && value < 1)) {
    return Bad(absl::StrCat("--", flag, " must be in [0, 1), got ", value));
  }
  return absl::OkStatus();
}

// HOST:PORT or [IPv6]:PORT, PORT in 1..65535.
absl::Status ParseHttpAddress(Options* o) {
  const std::string& a = o->http_addr;
  const size_t colon = a.rfind(':');
  std::string host = colon == std::string::npos ? "" : a.substr(0, colon);
  const std::string port = colon == std::string::npos ? "" : a.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    host.clear();  // an IPv6 address needs its brackets
  }
  int value = 0;
  const bool port_ok = !port.empty() && port.size() <= 5 &&
                       port.find_first_not_of("0123456789") == std::string::npos &&
                       (value = std::stoi(port)) >= 1 && value <= 65535;
  if (host.empty() || !port_ok) {
    return Bad(
        absl::StrCat("--http-addr must be HOST:PORT or [IPv6]:PORT with PORT in 1..65535, "
                     "got '",
                     a, "'"));
  }
  o->http_host = host;
  o->http_port = value;
  return absl::OkStatus();
}

absl::Status CheckProtocol(const cli::ParsedArgs& args, Options* o) {
  const std::string protocol = absl::GetFlag(FLAGS_protocol);
  if (protocol == "grpc") {
    o->protocol = Protocol::kGrpc;
    if (Given(args, "http_addr")) return Bad("--http-addr applies to --protocol openai only");
    return absl::OkStatus();
  }
  if (protocol != "openai") {
    return Bad(absl::StrCat("--protocol must be grpc or openai, got '", protocol, "'"));
  }
  o->protocol = Protocol::kOpenAi;
  o->http_addr = absl::GetFlag(FLAGS_http_addr);
  if (o->http_addr.empty()) {
    return Bad("--protocol openai needs --http-addr HOST:PORT (inferd serve --http-port)");
  }
  return ParseHttpAddress(o);
}

absl::Status CheckArrivals(const cli::ParsedArgs& args, Options* o) {
  const int sources = (Given(args, "request_rate") ? 1 : 0) + (Given(args, "concurrency") ? 1 : 0) +
                      (Given(args, "trace") ? 1 : 0);
  if (sources != 1) {
    return Bad(absl::StrCat(sources == 0 ? "give" : "give only",
                            " one of --request-rate, "
                            "--concurrency or --trace"));
  }
  if (Given(args, "burstiness") && !Given(args, "request_rate")) {
    return Bad("--burstiness applies to --request-rate only");
  }
  if (Given(args, "request_rate")) {
    o->arrival = ArrivalKind::kRate;
    o->request_rate = *absl::GetFlag(FLAGS_request_rate);
    if (!(o->request_rate > 0)) {
      return Bad(absl::StrCat("--request-rate must be > 0 (or inf), got ", o->request_rate));
    }
    o->burstiness = absl::GetFlag(FLAGS_burstiness);
    if (!(o->burstiness > 0) || std::isinf(o->burstiness)) {
      return Bad(absl::StrCat("--burstiness must be a finite number > 0, got ", o->burstiness));
    }
  } else if (Given(args, "concurrency")) {
    o->arrival = ArrivalKind::kConcurrency;
    o->concurrency = *absl::GetFlag(FLAGS_concurrency);
    if (o->concurrency < 1 || o->concurrency > kMaxConcurrency) {
      return Bad(absl::StrCat("--concurrency must be in [1, ", kMaxConcurrency, "], got ",
                              o->concurrency));
    }
  } else {
    o->arrival = ArrivalKind::kTrace;
    o->trace_path = absl::GetFlag(FLAGS_trace);
    if (o->trace_path.empty()) return Bad("--trace needs a file name");
    if (Given(args, "workload")) {
      return Bad("--workload does not apply with --trace (the trace gives the prompts)");
    }
  }
  o->num_requests = absl::GetFlag(FLAGS_num_requests);
  if (!o->num_requests.has_value() && o->arrival != ArrivalKind::kTrace) {
    return Bad("--num-requests is required (except with --trace)");
  }
  if (o->num_requests.has_value() && (*o->num_requests < 1 || *o->num_requests > kMaxNumRequests)) {
    return Bad(absl::StrCat("--num-requests must be in [1, ", kMaxNumRequests, "], got ",
                            *o->num_requests));
  }
  return absl::OkStatus();
}

absl::Status CheckWorkload(const cli::ParsedArgs& args, Options* o) {
  const std::string workload = absl::GetFlag(FLAGS_workload);
  if (o->arrival == ArrivalKind::kTrace) {
    o->workload = WorkloadKind::kTrace;
  } else if (workload == "random") {
    o->workload = WorkloadKind::kRandom;
  } else if (workload == "shared-prefix") {
    o->workload = WorkloadKind::kSharedPrefix;
  } else if (workload.empty()) {
    return Bad("--workload needs random, shared-prefix or a JSONL file");
  } else {
    o->workload = WorkloadKind::kDataset;
    o->dataset_path = workload;
  }
  const bool shared = o->workload == WorkloadKind::kSharedPrefix;
  for (const char* flag : {"num_prefixes", "prefix_len", "suffix_len"}) {
    if (Given(args, flag) && !shared) {
      return Bad(absl::StrCat("--", absl::StrReplaceAll(flag, {{"_", "-"}}),
                              " applies to --workload shared-prefix only"));
    }
  }
  if (Given(args, "input_len") && o->workload != WorkloadKind::kRandom) {
    return Bad(shared ? "--input-len does not apply to --workload shared-prefix (use --prefix-len "
                        "and --suffix-len)"
                      : "--input-len applies to --workload random only (the file gives prompts)");
  }
  LengthOptions& l = o->lengths;
  absl::StatusOr<std::optional<int>> v = AtLeast(absl::GetFlag(FLAGS_input_len), "input-len", 1);
  if (!v.ok()) return v.status();
  l.input_len = *v;
  if (v = AtLeast(absl::GetFlag(FLAGS_output_len), "output-len", 1); !v.ok()) return v.status();
  l.output_len = *v;
  if (v = AtLeast(absl::GetFlag(FLAGS_num_prefixes), "num-prefixes", 1); !v.ok()) return v.status();
  l.num_prefixes = *v;
  if (v = AtLeast(absl::GetFlag(FLAGS_prefix_len), "prefix-len", 1); !v.ok()) return v.status();
  l.prefix_len = *v;
  if (v = AtLeast(absl::GetFlag(FLAGS_suffix_len), "suffix-len", 1); !v.ok()) return v.status();
  l.suffix_len = *v;
  l.input_len_range = absl::GetFlag(FLAGS_input_len_range);
  l.output_len_range = absl::GetFlag(FLAGS_output_len_range);
  if (absl::Status s = CheckRange(l.input_len_range, "input-len-range"); !s.ok()) return s;
  return CheckRange(l.output_len_range, "output-len-range");
}

}  // namespace

const cli::SubcommandSpec& InferloadSpec() {
  static const cli::SubcommandSpec* spec = new cli::SubcommandSpec{
      .name = "inferload",
      .synopsis =
          "--addr HOST:PORT [--protocol grpc|openai --http-addr HOST:PORT] --num-requests N "
          "(--request-rate R [--burstiness B] | --concurrency C | --trace FILE.jsonl) "
          "[--workload random|shared-prefix|FILE.jsonl] "
          "[--input-len N] [--output-len N] [--slo-ttft S] [--slo-tpot S] [--seed S] "
          "[--json-out FILE] [--max-duration S] ...",
      .summary =
          "Load generator for inferd: streams Generate calls (or OpenAI completions over HTTP) "
          "at a request rate, a fixed concurrency or a replayed trace, and reports TTFT, TPOT, "
          "ITL, end-to-end latency, throughput, goodput and errors (vLLM benchmark_serving "
          "definitions).",
      .flags =
          {"addr",         "protocol",        "http_addr",        "num_requests", "request_rate",
           "concurrency",  "burstiness",      "workload",         "trace",        "input_len",
           "output_len",   "input_len_range", "output_len_range", "num_prefixes", "prefix_len",
           "suffix_len",   "slo_ttft",        "slo_tpot",         "seed",         "json_out",
           "max_duration", "no_progress",     "priority",         "temperature",  "tls_ca",
           "tls_cert",     "tls_key",         "api_key",          "api_key_file"},
      .repeatable = {},
      .max_positional = 0,
  };
  return *spec;
}

absl::StatusOr<Options> OptionsFromFlags(const cli::ParsedArgs& args) {
  Options o;
  o.addr = absl::GetFlag(FLAGS_addr);
  if (absl::Status s = cli::CheckServerAddress("--addr", o.addr); !s.ok()) return s;
  if (absl::Status s = CheckProtocol(args, &o); !s.ok()) return s;
  if (absl::Status s = CheckArrivals(args, &o); !s.ok()) return s;
  if (absl::Status s = CheckWorkload(args, &o); !s.ok()) return s;
  o.slo.ttft_s = absl::GetFlag(FLAGS_slo_ttft);
  o.slo.tpot_s = absl::GetFlag(FLAGS_slo_tpot);
  if (o.slo.ttft_s.has_value() && !(*o.slo.ttft_s > 0)) return Bad("--slo-ttft must be > 0");
  if (o.slo.tpot_s.has_value() && !(*o.slo.tpot_s > 0)) return Bad("--slo-tpot must be > 0");
  o.seed = absl::GetFlag(FLAGS_seed);
  o.json_out = absl::GetFlag(FLAGS_json_out);
  o.max_duration_s = absl::GetFlag(FLAGS_max_duration);
  constexpr double kMaxDurationS = cli::kMaxDurationFlagSeconds;
  if (!(o.max_duration_s > 0 && o.max_duration_s <= kMaxDurationS)) {
    return Bad(absl::StrCat("--max-duration must be a number of seconds in (0, ", kMaxDurationS,
                            "], got ", o.max_duration_s));
  }
  o.progress = !absl::GetFlag(FLAGS_no_progress);
  o.priority = absl::GetFlag(FLAGS_priority);
  o.temperature = absl::GetFlag(FLAGS_temperature);
  if (!(o.temperature >= 0) || std::isinf(o.temperature)) {
    return Bad(absl::StrCat("--temperature must be a finite number >= 0, got ", o.temperature));
  }
  return o;
}

}  // namespace inferd::inferload
