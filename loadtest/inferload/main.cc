// loadtest/inferload/main.cc — `inferload`, a load generator for inferd.
//
//   inferload --addr HOST:PORT [--protocol grpc|openai --http-addr HOST:PORT] --num-requests N
//             (--request-rate R [--burstiness B] | --concurrency C | --trace FILE.jsonl)
//             [--workload random|shared-prefix|FILE.jsonl] [--input-len N] [--output-len N]
//             [--slo-ttft S] [--slo-tpot S] [--seed S] [--json-out FILE] [--max-duration S]
//
// Flow: flags -> read the trace/dataset file -> GetModelInfo -> lengths fitted
// to the model context -> the workload and its arrival schedule -> the run
// (gRPC Generate streams, or OpenAI completions streamed over HTTP) ->
// metrics -> table on stdout (+ JSON file). Exit codes: 0 the run finished
// with at least one completed request; 1 it could not run (server
// unreachable, a failed call before the run) or no request completed; 2 bad
// flags or a bad input file. Depends only on proto/ and tools/cli (DESIGN §1).
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpcpp/grpcpp.h"
#include "loadtest/inferload/arrivals.h"
#include "loadtest/inferload/command_line.h"
#include "loadtest/inferload/http_stream_client.h"
#include "loadtest/inferload/load_runner.h"
#include "loadtest/inferload/metrics.h"
#include "loadtest/inferload/report.h"
#include "loadtest/inferload/server_queries.h"
#include "loadtest/inferload/stream_client.h"
#include "loadtest/inferload/workload.h"
#include "tools/cli/subcommand_flags.h"
#include "tools/client_security/channel_credentials.h"

namespace inferd::inferload {
namespace {

constexpr double kSetupCallTimeoutSeconds = 10;
// The arrival times draw from their own stream, apart from the prompts'.
constexpr uint64_t kArrivalSeedSalt = 0x9e3779b97f4a7c15ULL;

std::atomic<bool> g_stop{false};
void OnInterrupt(int) { g_stop.store(true); }

int Fail(int code, const std::string& message) {
  absl::FPrintF(stderr, "inferload: %s\n", message);
  return code;
}

std::string ArrivalsText(const Options& o) {
  switch (o.arrival) {
    case ArrivalKind::kRate:
      return absl::StrFormat(
          "%s, %g req/s%s", o.burstiness == 1.0 ? "poisson" : "gamma", o.request_rate,
          o.burstiness == 1.0 ? "" : absl::StrFormat(", burstiness %g", o.burstiness));
    case ArrivalKind::kConcurrency:
      return absl::StrCat("closed loop, concurrency ", o.concurrency);
    case ArrivalKind::kTrace:
      return absl::StrCat("trace ", o.trace_path);
  }
  return "";
}

std::string WorkloadText(const Options& o) {
  switch (o.workload) {
    case WorkloadKind::kRandom:
      return "random";
    case WorkloadKind::kSharedPrefix:
      return "shared-prefix";
    case WorkloadKind::kDataset:
      return absl::StrCat("dataset ", o.dataset_path);
    case WorkloadKind::kTrace:
      return absl::StrCat("trace ", o.trace_path);
  }
  return "";
}

nlohmann::json Optional(const std::optional<double>& value) {
  return value.has_value() ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

// The run's settings after defaults, echoed under "config" in the JSON.
nlohmann::json ConfigJson(const Options& o, int64_t n, const ServedModel* model,
                          const Lengths* lengths) {
  static constexpr const char* kArrival[] = {"rate", "concurrency", "trace"};
  static constexpr const char* kWorkload[] = {"random", "shared-prefix", "dataset", "trace"};
  nlohmann::json c = {
      {"addr", o.addr},
      {"protocol", o.protocol == Protocol::kGrpc ? "grpc" : "openai"},
      {"num_requests", n},
      {"arrival", kArrival[static_cast<int>(o.arrival)]},
      {"workload", kWorkload[static_cast<int>(o.workload)]},
      {"slo_ttft", Optional(o.slo.ttft_s)},
      {"slo_tpot", Optional(o.slo.tpot_s)},
      {"seed", o.seed},
      {"max_duration_s", o.max_duration_s},
      {"priority", o.priority},
      {"temperature", o.temperature},
  };
  if (o.protocol == Protocol::kOpenAi) c["http_addr"] = o.http_addr;
  if (o.arrival == ArrivalKind::kRate) {
    c["request_rate"] =
        std::isinf(o.request_rate) ? nlohmann::json("inf") : nlohmann::json(o.request_rate);
    c["burstiness"] = o.burstiness;
  }
  if (o.arrival == ArrivalKind::kConcurrency) c["concurrency"] = o.concurrency;
  if (o.arrival == ArrivalKind::kTrace) c["trace"] = o.trace_path;
  if (o.workload == WorkloadKind::kDataset) c["dataset"] = o.dataset_path;
  if (model != nullptr) {
    c["model_context"] = model->limits.max_context;
    c["vocab_size"] = model->limits.vocab_size;
  }
  if (lengths != nullptr) {
    if (o.workload == WorkloadKind::kRandom) {
      c["input_len"] = lengths->input_len;
      c["input_len_range"] = lengths->input_len_range;
    }
    c["output_len"] = lengths->output_len;
    c["output_len_range"] = lengths->output_len_range;
    if (o.workload == WorkloadKind::kSharedPrefix) {
      c["num_prefixes"] = lengths->num_prefixes;
      c["prefix_len"] = lengths->prefix_len;
      c["suffix_len"] = lengths->suffix_len;
      c["input_len_range"] = lengths->input_len_range;
    }
  }
  return c;
}

// One line on stderr per error code: how many requests ended with it and the
// first one's message.
void PrintFirstErrors(const std::vector<RequestRecord>& records) {
  std::map<int, std::pair<int64_t, const std::string*>> first;
  for (const RequestRecord& r : records) {
    if (r.ok()) continue;
    auto [it, inserted] = first.try_emplace(r.status_code, 0, &r.error_message);
    ++it->second.first;
  }
  for (const auto& [code, seen] : first) {
    absl::FPrintF(stderr, "inferload: %d request(s) failed with %s, the first: %s\n", seen.first,
                  StatusCodeName(code), *seen.second);
  }
}

// Prints the table and writes the JSON; the exit code of a finished run.
int Report(const Options& o, const RunMetrics& metrics, const RunInfo& info) {
  absl::PrintF("%s", FormatTable(metrics, info));
  std::fflush(stdout);
  if (!o.json_out.empty()) {
    if (absl::Status s = WriteJsonFile(o.json_out, ToJson(metrics, info)); !s.ok()) {
      return Fail(1, std::string(s.message()));
    }
  }
  if (info.setup_error.has_value()) return 1;
  return metrics.completed > 0 ? 0 : 1;
}

int Run(const cli::ParsedArgs& args) {
  absl::StatusOr<Options> parsed = OptionsFromFlags(args);
  if (!parsed.ok()) return Fail(2, std::string(parsed.status().message()));
  const Options& o = *parsed;

  // Input files first: a bad file is a usage error, found before any call.
  std::vector<TraceEntry> trace;
  std::vector<DatasetEntry> dataset;
  if (o.workload == WorkloadKind::kTrace) {
    absl::StatusOr<std::vector<TraceEntry>> loaded = LoadTrace(o.trace_path);
    if (!loaded.ok()) return Fail(2, std::string(loaded.status().message()));
    trace = std::move(*loaded);
    if (o.num_requests.has_value() && *o.num_requests > static_cast<int64_t>(trace.size())) {
      return Fail(2, absl::StrCat("--num-requests ", *o.num_requests, " exceeds the ", trace.size(),
                                  " requests of the trace ", o.trace_path));
    }
  } else if (o.workload == WorkloadKind::kDataset) {
    absl::StatusOr<std::vector<DatasetEntry>> loaded = LoadDataset(o.dataset_path);
    if (!loaded.ok()) return Fail(2, std::string(loaded.status().message()));
    dataset = std::move(*loaded);
  }
  const int64_t n = o.num_requests.value_or(static_cast<int64_t>(trace.size()));

  RunInfo info;
  info.protocol = o.protocol == Protocol::kGrpc
                      ? absl::StrCat("grpc ", o.addr)
                      : absl::StrCat("openai http://", o.http_addr, "/v1/completions");
  info.arrivals = ArrivalsText(o);
  info.workload = WorkloadText(o);
  const client_security::ClientSecurity security = client_security::ClientSecurityFromFlags();
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      client_security::MakeChannelCredentials(security);
  if (!credentials.ok()) return Fail(2, std::string(credentials.status().message()));
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(o.addr, *credentials);
  std::unique_ptr<v1::Inference::Stub> stub = v1::Inference::NewStub(channel);
  absl::StatusOr<ServedModel> model = FetchServedModel(*stub, o.addr, kSetupCallTimeoutSeconds);
  if (!model.ok()) {
    // Nothing can be sent: every request counts as failed with the code of
    // GetModelInfo (UNAVAILABLE when the server cannot be reached).
    absl::FPrintF(stderr, "inferload: %s\n", model.status().message());
    RunMetrics metrics = ComputeMetrics({}, n, 0, o.slo);
    metrics.errors[StatusCodeName(static_cast<int>(model.status().code()))] = n;
    info.setup_error = std::string(model.status().message());
    info.config = ConfigJson(o, n, nullptr, nullptr);
    return Report(o, metrics, info);
  }
  info.model = model->name;

  absl::StatusOr<Lengths> resolved =
      ResolveLengths(o.workload, o.lengths, model->limits.max_context);
  if (!resolved.ok()) return Fail(1, std::string(resolved.status().message()));
  const Lengths& lengths = *resolved;
  for (const std::string& note : lengths.notes) absl::FPrintF(stderr, "inferload: %s\n", note);
  info.config = ConfigJson(o, n, &*model, &lengths);

  const TokenCounter count_tokens = RemoteTokenCounter(*stub, o.addr, kSetupCallTimeoutSeconds);
  absl::StatusOr<Workload> workload;
  switch (o.workload) {
    case WorkloadKind::kRandom:
      workload = RandomWorkload(n, lengths, model->limits, o.seed);
      break;
    case WorkloadKind::kSharedPrefix:
      workload = SharedPrefixWorkload(n, lengths, model->limits, o.seed);
      break;
    case WorkloadKind::kDataset:
      workload = DatasetWorkload(n, dataset, o.dataset_path, lengths, model->limits, count_tokens);
      break;
    case WorkloadKind::kTrace:
      workload =
          TraceWorkload(n, trace, o.trace_path, lengths, model->limits, count_tokens, o.seed);
      break;
  }
  if (!workload.ok()) {
    const bool bad_input = workload.status().code() == absl::StatusCode::kInvalidArgument;
    return Fail(bad_input ? 2 : 1, std::string(workload.status().message()));
  }
  info.skipped_prompts = workload->skipped_prompts;
  if (workload->skipped_prompts > 0) {
    absl::FPrintF(stderr, "inferload: skipped %d prompts of %s longer than the model context\n",
                  workload->skipped_prompts, o.dataset_path);
  }

  ArrivalSchedule schedule;
  switch (o.arrival) {
    case ArrivalKind::kRate:
      schedule = OpenLoopSchedule(n, o.request_rate, o.burstiness, o.seed ^ kArrivalSeedSalt);
      break;
    case ArrivalKind::kConcurrency:
      schedule = ClosedLoopSchedule(n, o.concurrency);
      break;
    case ArrivalKind::kTrace:
      schedule.due_s = workload->arrival_s;
      break;
  }

  const SamplingOptions sampling = {.temperature = o.temperature, .priority = o.priority};
  std::unique_ptr<LoadClient> client;
  if (o.protocol == Protocol::kGrpc) {
    client = std::make_unique<StreamClient>(channel, LoadClient::Clock::now(), sampling);
  } else {
    absl::StatusOr<client_security::ClientSecrets> secrets =
        client_security::LoadClientSecrets(security);
    if (!secrets.ok()) return Fail(2, std::string(secrets.status().message()));
    if (secrets->tls)
      info.protocol = absl::StrCat("openai https://", o.http_addr, "/v1/completions");
    absl::StatusOr<std::unique_ptr<HttpStreamClient>> http =
        HttpStreamClient::Create({.host = o.http_host,
                                  .port = o.http_port,
                                  .tls = secrets->tls,
                                  .ca_pem = secrets->ca_pem,
                                  .cert_pem = secrets->cert_pem,
                                  .key_pem = secrets->key_pem,
                                  .api_key = secrets->api_key},
                                 LoadClient::Clock::now(), sampling);
    if (!http.ok()) return Fail(1, std::string(http.status().message()));
    client = *std::move(http);
  }

  std::signal(SIGINT, OnInterrupt);
  ProgressBar progress(o.progress);
  const RunResult run =
      RunLoad(*client, workload->requests, schedule, o.max_duration_s, &g_stop, &progress);
  client.reset();
  std::signal(SIGINT, SIG_DFL);
  info.interrupted = g_stop.load();
  info.stopped_by_max_duration = run.stopped_early && !info.interrupted;
  if (info.interrupted) absl::FPrintF(stderr, "inferload: interrupted; reporting what finished\n");
  PrintFirstErrors(run.records);
  return Report(o, ComputeMetrics(run.records, n, run.duration_s, o.slo), info);
}

}  // namespace
}  // namespace inferd::inferload

int main(int argc, char** argv) {
  return inferd::cli::RunCommandMain(inferd::inferload::InferloadSpec(), inferd::inferload::Run,
                                     argc, argv);
}
