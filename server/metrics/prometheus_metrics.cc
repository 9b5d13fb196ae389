// server/metrics/prometheus_metrics.cc
#include "server/metrics/prometheus_metrics.h"

#include <array>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "server/metrics/buckets.h"
#include "server/request_builder.h"
#include "server/status_mapping.h"

namespace inferd::server {

namespace {

using engine::EngineClock;
using engine::FinishReason;
using prometheus::Counter;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Labels;
using prometheus::Registry;

constexpr FinishReason kFinishReasons[] = {FinishReason::kStop, FinishReason::kLength,
                                           FinishReason::kStopString, FinishReason::kAbort};
constexpr int kNumFinishReasons = static_cast<int>(FinishReason::kAbort) + 1;
constexpr int kNumGrpcCodes = static_cast<int>(grpc::StatusCode::UNAUTHENTICATED) + 1;

double Seconds(EngineClock::duration d) { return std::chrono::duration<double>(d).count(); }
bool Reached(EngineClock::time_point t) { return t != EngineClock::time_point{}; }

Labels With(Labels labels, const std::string& name, std::string value) {
  labels.emplace(name, std::move(value));
  return labels;
}

Gauge& AddGauge(Registry& registry, const char* name, const char* help, const Labels& labels) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add(labels);
}

Counter& AddCounter(Registry& registry, const char* name, const char* help, const Labels& labels) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add(labels);
}

Histogram& AddHistogram(Registry& registry, const char* name, const char* help,
                        const Labels& labels, const std::vector<double>& buckets) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry).Add(labels, buckets);
}

}  // namespace

struct PrometheusMetrics::ServerSeries {
  ServerSeries(Registry& registry, const Labels& model);

  Gauge& engine_healthy;
  Counter& auth_failures;
  Counter& stream_write_timeouts;
  std::array<Counter*, kNumGrpcCodes> failure{};  // by grpc::StatusCode; OK unused
};

PrometheusMetrics::ServerSeries::ServerSeries(Registry& r, const Labels& model)
    : engine_healthy(AddGauge(r, "inferd:engine_healthy",
                              "1 while the server is ready (gRPC health SERVING), else 0.", model)),
      auth_failures(AddCounter(r, "inferd:auth_failures_total",
                               "gRPC calls refused with UNAUTHENTICATED for a missing or wrong "
                               "API key (--api-key-file).",
                               model)),
      stream_write_timeouts(AddCounter(r, "inferd:stream_write_timeouts_total",
                                       "Generate streams aborted because the client read nothing "
                                       "for --stream-write-timeout.",
                                       model)) {
  auto& failure_family =
      prometheus::BuildCounter()
          .Name("inferd:request_failure_total")
          .Help(
              "Generate calls that ended with an error, by gRPC code (refused at admission "
              "included).")
          .Register(r);
  for (int code = 1; code < kNumGrpcCodes; ++code) {
    failure[code] =
        &failure_family.Add(With(model, "code", GrpcCodeName(static_cast<grpc::StatusCode>(code))));
  }
}

struct PrometheusMetrics::Series {
  Series(Registry& registry, const Labels& model, const engine::ModelInfo& info);

  const Labels model;  // {model_name}, on every series
  Gauge& num_requests_running;
  Gauge& num_requests_waiting;
  Gauge& kv_cache_usage_perc;
  Counter& prompt_tokens;
  Counter& generation_tokens;
  Counter& num_preemptions;
  Counter& prefix_cache_queries;
  Counter& prefix_cache_hits;
  Counter& prompt_tokens_computed;
  Histogram& time_to_first_token;
  Histogram& inter_token_latency;
  Histogram& time_per_output_token;
  Histogram& e2e_latency;
  Histogram& queue_time;
  Histogram& prefill_time;
  Histogram& decode_time;
  Histogram& prompt_tokens_per_request;
  Histogram& generation_tokens_per_request;
  Histogram& iteration_tokens;
  std::array<Counter*, kNumFinishReasons> success{};  // by FinishReason; kNone unused
  Counter* spec_drafts = nullptr;
  Counter* spec_draft_tokens = nullptr;
  Counter* spec_accepted_tokens = nullptr;
  std::array<Counter*, kMaxSpeculativeTokens> spec_accepted_per_pos{};
};

PrometheusMetrics::Series::Series(Registry& r, const Labels& model_labels,
                                  const engine::ModelInfo& info)
    : model(model_labels),
      num_requests_running(
          AddGauge(r, "inferd:num_requests_running",
                   "Requests in the engine's running set (scheduled, holding KV blocks).", model)),
      num_requests_waiting(
          AddGauge(r, "inferd:num_requests_waiting", "Requests waiting to be scheduled.", model)),
      kv_cache_usage_perc(AddGauge(r, "inferd:kv_cache_usage_perc",
                                   "KV cache usage, 0 to 1: blocks owned by requests / all "
                                   "blocks (cached free blocks count as free).",
                                   model)),
      prompt_tokens(AddCounter(r, "inferd:prompt_tokens_total",
                               "Prompt tokens of requests that produced their first token.",
                               model)),
      generation_tokens(AddCounter(r, "inferd:generation_tokens_total",
                                   "Generated tokens (usage.completion_tokens).", model)),
      num_preemptions(AddCounter(r, "inferd:num_preemptions_total",
                                 "Preemptions (a running request gave its KV blocks back).",
                                 model)),
      prefix_cache_queries(AddCounter(
          r, "inferd:prefix_cache_queries_total",
          "Prefix cache queries, in prompt tokens looked up when first scheduled.", model)),
      prefix_cache_hits(AddCounter(r, "inferd:prefix_cache_hits_total",
                                   "Prefix cache hits, in prompt tokens found cached.", model)),
      prompt_tokens_computed(AddCounter(
          r, "inferd:prompt_tokens_computed_total",
          "Prompt tokens computed by forward passes (prefill chunks, recomputes after "
          "preemption); cached prompts and the prompt shared by the n choices of a request "
          "are not computed again.",
          model)),
      time_to_first_token(AddHistogram(r, "inferd:time_to_first_token_seconds",
                                       "Seconds from arrival to the first token.", model,
                                       TimeToFirstTokenBuckets())),
      inter_token_latency(AddHistogram(r, "inferd:inter_token_latency_seconds",
                                       "Seconds between successive tokens of a request.", model,
                                       PerTokenLatencyBuckets())),
      time_per_output_token(
          AddHistogram(r, "inferd:request_time_per_output_token_seconds",
                       "Per request: decode time / (tokens - 1), requests with 2 or more tokens.",
                       model, PerTokenLatencyBuckets())),
      e2e_latency(AddHistogram(r, "inferd:e2e_request_latency_seconds",
                               "Seconds from arrival to the end of a successful request.", model,
                               RequestLatencyBuckets())),
      queue_time(AddHistogram(r, "inferd:request_queue_time_seconds",
                              "Seconds from arrival to the first step scheduling the request.",
                              model, RequestLatencyBuckets())),
      prefill_time(AddHistogram(r, "inferd:request_prefill_time_seconds",
                                "Seconds from the first scheduled step to the first token.", model,
                                RequestLatencyBuckets())),
      decode_time(AddHistogram(r, "inferd:request_decode_time_seconds",
                               "Seconds from the first token to the last token.", model,
                               RequestLatencyBuckets())),
      prompt_tokens_per_request(AddHistogram(r, "inferd:request_prompt_tokens",
                                             "Prompt tokens of a successful request.", model,
                                             OneTwoFiveBuckets(info.max_context))),
      generation_tokens_per_request(AddHistogram(r, "inferd:request_generation_tokens",
                                                 "Generated tokens of a successful request.", model,
                                                 OneTwoFiveBuckets(info.max_context))),
      iteration_tokens(AddHistogram(r, "inferd:iteration_tokens_total",
                                    "Tokens computed by one engine step (prefill + decode).", model,
                                    IterationTokenBuckets(info.max_num_batched_tokens))) {
  AddGauge(r, "inferd:cache_config_info",
           "KV cache configuration and the weights' quantization (the value is always 1).",
           With(With(With(With(With(model, "block_size", absl::StrCat(info.block_size)),
                               "num_blocks", absl::StrCat(info.num_kv_blocks)),
                          "prefix_caching", info.prefix_caching ? "true" : "false"),
                     "cache_dtype", info.kv_cache_dtype),
                "quantization", info.quantization))
      .Set(1);

  auto& success_family =
      prometheus::BuildCounter()
          .Name("inferd:request_success_total")
          .Help(
              "Requests that finished without error, by finished_reason (an abort by the "
              "client included).")
          .Register(r);
  for (FinishReason reason : kFinishReasons) {
    success[static_cast<int>(reason)] =
        &success_family.Add(With(model, "finished_reason", engine::FinishReasonName(reason)));
  }
  // Speculative decoding: registered whether or not the engine speculates,
  // so dashboards find them.
  spec_drafts = &AddCounter(r, "inferd:spec_decode_num_drafts_total",
                            "Speculative decoding drafts verified.", model);
  spec_draft_tokens = &AddCounter(r, "inferd:spec_decode_num_draft_tokens_total",
                                  "Draft tokens verified (tree nodes for a tree).", model);
  spec_accepted_tokens = &AddCounter(r, "inferd:spec_decode_num_accepted_tokens_total",
                                     "Draft tokens accepted.", model);
  auto& per_position = prometheus::BuildCounter()
                           .Name("inferd:spec_decode_num_accepted_tokens_per_pos_total")
                           .Help("Draft tokens accepted, by position in the draft.")
                           .Register(r);
  for (int position = 0; position < kMaxSpeculativeTokens; ++position) {
    spec_accepted_per_pos[position] =
        &per_position.Add(With(model, "position", absl::StrCat(position)));
  }
}

namespace {

Labels ModelLabels(const std::string& model_name) { return {{"model_name", model_name}}; }

}  // namespace

PrometheusMetrics::PrometheusMetrics(const std::string& model_name)
    : registry_(std::make_shared<Registry>()),
      server_series_(std::make_unique<const ServerSeries>(*registry_, ModelLabels(model_name))) {}

PrometheusMetrics::~PrometheusMetrics() = default;

void PrometheusMetrics::OnEngineStart(const engine::ModelInfo& info) {
  INFERD_CHECK(series_ == nullptr);
  series_ = std::make_unique<const Series>(*registry_, ModelLabels(info.model_name), info);
}

void PrometheusMetrics::OnStep(const engine::StepStats& stats) {
  const Series& s = *series_;
  s.num_requests_running.Set(static_cast<double>(stats.num_running));
  s.num_requests_waiting.Set(static_cast<double>(stats.num_waiting));
  s.kv_cache_usage_perc.Set(stats.num_kv_blocks_total > 0
                                ? static_cast<double>(stats.num_kv_blocks_used) /
                                      static_cast<double>(stats.num_kv_blocks_total)
                                : 0.0);
  s.prompt_tokens.Increment(static_cast<double>(stats.num_prompt_tokens));
  s.generation_tokens.Increment(static_cast<double>(stats.num_generation_tokens));
  s.num_preemptions.Increment(static_cast<double>(stats.num_preemptions));
  s.prefix_cache_queries.Increment(static_cast<double>(stats.prefix_cache_queries));
  s.prefix_cache_hits.Increment(static_cast<double>(stats.prefix_cache_hits));
  s.prompt_tokens_computed.Increment(static_cast<double>(stats.num_prompt_tokens_computed));
  if (stats.num_batched_tokens > 0) {
    s.iteration_tokens.Observe(static_cast<double>(stats.num_batched_tokens));
  }
  for (double v : stats.time_to_first_token_s) s.time_to_first_token.Observe(v);
  for (double v : stats.inter_token_latency_s) s.inter_token_latency.Observe(v);
  if (stats.spec_num_drafts > 0) {
    s.spec_drafts->Increment(static_cast<double>(stats.spec_num_drafts));
    s.spec_draft_tokens->Increment(static_cast<double>(stats.spec_num_draft_tokens));
    s.spec_accepted_tokens->Increment(static_cast<double>(stats.spec_num_accepted_tokens));
    for (size_t i = 0;
         i < stats.spec_accepted_per_position.size() && i < s.spec_accepted_per_pos.size(); ++i) {
      if (stats.spec_accepted_per_position[i] > 0) {
        s.spec_accepted_per_pos[i]->Increment(
            static_cast<double>(stats.spec_accepted_per_position[i]));
      }
    }
  }
}

void PrometheusMetrics::OnRequestFinished(const engine::RequestStats& stats) {
  const Series& s = *series_;
  if (stats.status_code != absl::StatusCode::kOk) {
    CountFailure(ToGrpcCode(stats.status_code));
    return;
  }
  const int reason = static_cast<int>(stats.finish_reason);
  INFERD_CHECK(reason > 0 && reason < kNumFinishReasons);
  s.success[reason]->Increment();
  s.e2e_latency.Observe(Seconds(stats.finished - stats.arrival));
  // Never scheduled (aborted while waiting): it queued until it ended.
  s.queue_time.Observe(Seconds(
      (Reached(stats.first_scheduled) ? stats.first_scheduled : stats.finished) - stats.arrival));
  if (Reached(stats.first_token)) {
    s.prefill_time.Observe(Seconds(stats.first_token - stats.first_scheduled));
    const double decode = Seconds(stats.last_token - stats.first_token);
    s.decode_time.Observe(decode);
    if (stats.num_sampled_tokens > 1) {
      s.time_per_output_token.Observe(decode / static_cast<double>(stats.num_sampled_tokens - 1));
    }
  }
  s.prompt_tokens_per_request.Observe(static_cast<double>(stats.num_prompt_tokens));
  s.generation_tokens_per_request.Observe(static_cast<double>(stats.num_generation_tokens));
}

void PrometheusMetrics::CountFailure(grpc::StatusCode code) {
  int index = static_cast<int>(code);
  if (index <= 0 || index >= kNumGrpcCodes) index = static_cast<int>(grpc::StatusCode::UNKNOWN);
  server_series_->failure[index]->Increment();
}

void PrometheusMetrics::CountAuthFailure() { server_series_->auth_failures.Increment(); }

void PrometheusMetrics::CountStreamWriteTimeout() {
  server_series_->stream_write_timeouts.Increment();
}

void PrometheusMetrics::SetHealthy(bool healthy) {
  server_series_->engine_healthy.Set(healthy ? 1.0 : 0.0);
}

}  // namespace inferd::server
