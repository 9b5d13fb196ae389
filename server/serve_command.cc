// server/serve_command.cc — the life of `inferd serve`:
//
//   1. flags; the metrics endpoint, the gRPC server (health, reflection,
//      Inference) and, with --http-port, the OpenAI-compatible HTTP API
//      start, readiness NOT_SERVING, liveness SERVING; stdout "inferd: metrics
//      on ...", "inferd: http on ..." and "inferd: listening on ... (loading ...)"
//   2. the model loads (a SIGINT/SIGTERM/SIGHUP meanwhile exits 0 at once: nothing
//      to drain); Inference calls answer UNAVAILABLE until it is loaded
//   3. readiness SERVING, the engine watchdog starts; stdout "inferd: serving
//      <model> on HOST:PORT" (tools wait for it)
//   4. SIGINT/SIGTERM/SIGHUP: drain (drain.h; HTTP streams get the same
//      --drain-timeout, then are aborted), then the watchdog stops, the HTTP
//      and gRPC servers shut down, the engine stops, exit 0. A second signal during the drain exits
//      at once with 128 + its number.
#include "server/serve_command.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/engine.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/auth/api_key_set.h"
#include "server/auth/server_security.h"
#include "server/drain.h"
#include "server/engine_config_flags.h"
#include "server/engine_watchdog.h"
#include "server/flags.h"
#include "server/health_reporter.h"
#include "server/http/http_server.h"
#include "server/http/openai_service.h"
#include "server/inference_service.h"
#include "server/listen_preflight.h"
#include "server/log.h"
#include "server/metrics/metrics_server.h"
#include "server/metrics/prometheus_metrics.h"
#include "server/readiness.h"
#include "server/request_limits.h"
#include "server/request_log.h"
#include "server/shutdown_signal.h"
#include "server/stream_write_watchdog.h"

namespace inferd::server {

namespace {

struct ServeOptions {
  std::string host;
  int32_t port = 0;
  int32_t metrics_port = 0;
  int32_t http_port = -1;     // -1: no HTTP API
  std::string chat_template;  // --chat-template
  absl::Duration drain_timeout;
  absl::Duration watchdog_timeout;      // zero: no watchdog
  absl::Duration stream_write_timeout;  // zero: none
  absl::Duration load_delay;            // debugging
  bool log_requests = false;
  engine::EngineConfig engine;
  SecurityFlags security;
  RequestLimits limits;
};

constexpr double kMaxSeconds = cli::kMaxDurationFlagSeconds;

absl::StatusOr<absl::Duration> SecondsFlag(const char* flag, double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > kMaxSeconds) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, " must be a number of seconds in [0, ", kMaxSeconds, "], got ", seconds));
  }
  return absl::Seconds(seconds);
}

// The flags, range-checked; INVALID_ARGUMENT (or NOT_FOUND for --model)
// naming the flag.
absl::StatusOr<ServeOptions> OptionsFromFlags() {
  ServeOptions o;
  o.host = absl::GetFlag(FLAGS_host);
  o.port = absl::GetFlag(FLAGS_port);
  o.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  o.http_port = absl::GetFlag(FLAGS_http_port);
  o.chat_template = absl::GetFlag(FLAGS_chat_template);
  o.log_requests = absl::GetFlag(FLAGS_log_requests);
  if (o.port < 0 || o.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--port must be in [0, 65535], got ", o.port));
  }
  if (o.metrics_port < -1 || o.metrics_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-port must be in [0, 65535], or -1 for none, got ", o.metrics_port));
  }
  if (o.http_port < -1 || o.http_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http-port must be in [0, 65535], or -1 for none, got ", o.http_port));
  }
  if (o.host.empty()) return absl::InvalidArgumentError("--host must not be empty");
  for (auto [flag, value, out] :
       {std::tuple{"drain-timeout", absl::GetFlag(FLAGS_drain_timeout), &o.drain_timeout},
        std::tuple{"watchdog-timeout", absl::GetFlag(FLAGS_watchdog_timeout), &o.watchdog_timeout},
        std::tuple{"stream-write-timeout", absl::GetFlag(FLAGS_stream_write_timeout),
                   &o.stream_write_timeout},
        std::tuple{"debug-load-delay", absl::GetFlag(FLAGS_debug_load_delay), &o.load_delay}}) {
    absl::StatusOr<absl::Duration> d = SecondsFlag(flag, value);
    if (!d.ok()) return d.status();
    *out = *d;
  }
  absl::StatusOr<engine::EngineConfig> config = EngineConfigFromFlags();
  if (!config.ok()) return config.status();
  o.engine = *std::move(config);
  o.engine.debug_stall_file = absl::GetFlag(FLAGS_debug_stall_file);
  absl::StatusOr<RequestLimits> limits = RequestLimitsFromFlags();
  if (!limits.ok()) return limits.status();
  o.limits = *limits;
  o.security = SecurityFlagsFromCommandLine();
  return o;
}

// "HOST:PORT", with brackets around an IPv6 host.
std::string HostPort(const std::string& host, int port) {
  if (absl::StrContains(host, ':') && !absl::StartsWith(host, "[")) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

// Bytes of the model's *.safetensors files, or of its GGUF file (the
// checkpoint as stored).
int64_t WeightFileBytes(const std::string& model_dir) {
  int64_t bytes = 0;
  std::error_code error;
  if (std::filesystem::is_regular_file(model_dir, error)) {
    const uintmax_t size = std::filesystem::file_size(model_dir, error);
    return error ? 0 : static_cast<int64_t>(size);
  }
  for (const auto& entry : std::filesystem::directory_iterator(model_dir, error)) {
    if (entry.path().extension() == ".safetensors") {
      const uintmax_t size = entry.file_size(error);
      if (!error) bytes += static_cast<int64_t>(size);
    }
  }
  return bytes;
}

// Exits now, without destructors (other threads are still running).
[[noreturn]] void ExitNow(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(code);
}

// The metrics endpoint is left to the process exit, so that it stays
// scrapeable to the end: civetweb's listener polls in 2 s quanta, so stopping
// it would only hold the exit up to 2 s. Kept reachable from static storage
// (no leak report); the OS closes its socket. The pointer is volatile: a
// static that nothing reads is otherwise optimized away, and LeakSanitizer
// then reports the endpoint as leaked at every exit.
void KeepUntilExit(std::unique_ptr<MetricsServer> metrics_server) {
  [[maybe_unused]] static MetricsServer* volatile kept_until_exit = nullptr;
  if (metrics_server != nullptr) kept_until_exit = metrics_server.release();
}

// Loads the model (after --debug-load-delay). A SIGINT/SIGTERM/SIGHUP meanwhile
// exits 0 at once.
absl::StatusOr<std::unique_ptr<engine::Engine>> LoadEngine(const ServeOptions& o) {
  ShutdownSignalWatcher signals([](int signal) {
    LogInfo(absl::StrCat(ShutdownSignalName(signal), " received while loading the model: exiting"),
            {{"signal", ShutdownSignalName(signal)}, {"exit_code", 0}});
    ExitNow(0);
  });
  if (o.load_delay > absl::ZeroDuration()) {
    LogInfo("debug: waiting before loading the model",
            {{"debug_load_delay_s", absl::ToDoubleSeconds(o.load_delay)}});
    absl::SleepFor(o.load_delay);
  }
  const std::string& dir = o.engine.model_dir;
  LogInfo("loading model", {{"model", engine::ModelNameFromDir(dir)}, {"model_dir", dir}});
  const absl::Time start = absl::Now();
  engine::EngineConfig config = o.engine;
  config.on_load_progress = [](const engine::LoadProgress& p) {
    LogInfo(engine::FormatLoadProgress(p), {{"loaded_bytes", p.loaded_bytes},
                                            {"total_bytes", p.total_bytes},
                                            {"percent", p.Percent()},
                                            {"elapsed_s", std::round(p.seconds * 1e3) / 1e3}});
  };
  absl::StatusOr<std::unique_ptr<engine::Engine>> created = engine::Engine::Create(config);
  if (!created.ok()) return created;
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const engine::ModelInfo& info = (*created)->model_info();
  for (const std::string& warning : info.load_warnings) {
    LogWarning(warning, {{"model_dir", dir}});
  }
  LogInfo(absl::StrFormat("model loaded in %.3f s", seconds),
          {{"load_s", std::round(seconds * 1e3) / 1e3},
           {"architecture", info.architecture},
           {"weight_file_bytes", WeightFileBytes(dir)},
           {"num_layers", info.num_layers},
           {"hidden_size", info.hidden_size},
           {"vocab_size", info.vocab_size},
           {"dtype", info.dtype},
           {"checkpoint_dtype", info.checkpoint_dtype},
           {"quantization", info.quantization},
           {"lm_head_quantized", info.lm_head_quantized},
           {"weight_bytes", info.weight_bytes},
           {"load_format", info.load_format},
           {"weights_mapped_bytes", info.weights_mapped_bytes},
           {"weights_copied_bytes", info.weight_bytes - info.weights_mapped_bytes},
           {"weights_load_s", std::round(info.load_seconds * 1e3) / 1e3},
           {"max_context", info.max_context},
           {"num_kv_blocks", info.num_kv_blocks},
           {"kv_cache_bytes", info.kv_cache_bytes}});
  return created;
}

void LogStartupSummary(const ServeOptions& o, const ServerSecurity& security,
                       const engine::ModelInfo& info, const std::string& grpc_address,
                       const std::string& metrics_address) {
  LogInfo("startup summary",
          {{"model", info.model_name},
           {"model_dir", info.model_dir},
           {"architecture", info.architecture},
           {"device", info.device},
           {"cpu_isa", info.cpu_isa},
           {"cpu_kernels", info.cpu_kernels},
           {"dtype", info.dtype},
           {"quantization", info.quantization},
           {"weight_bytes", info.weight_bytes},
           {"kv_cache_dtype", info.kv_cache_dtype},
           {"max_model_len", info.max_context},
           {"num_kv_blocks", info.num_kv_blocks},
           {"block_size", info.block_size},
           {"kv_cache_bytes", info.kv_cache_bytes},
           {"max_num_seqs", info.max_num_seqs},
           {"max_num_batched_tokens", info.max_num_batched_tokens},
           {"max_num_partial_prefills", info.max_num_partial_prefills},
           {"max_queue_len", o.engine.max_queue_len},
           {"prefix_caching", info.prefix_caching},
           {"chunked_prefill", info.chunked_prefill},
           {"speculative", info.speculative_method},
           {"num_speculative_tokens", info.num_speculative_tokens},
           {"speculative_policy", info.speculative_policy},
           {"generation_config", info.generation_config},
           {"default_sampling", info.sampling_defaults.ToString()},
           {"grpc_address", grpc_address},
           {"metrics_address",
            metrics_address.empty() ? nlohmann::json() : nlohmann::json(metrics_address)},
           {"drain_timeout_s", absl::ToDoubleSeconds(o.drain_timeout)},
           {"watchdog_timeout_s", absl::ToDoubleSeconds(o.watchdog_timeout)},
           {"stream_write_timeout_s", absl::ToDoubleSeconds(o.stream_write_timeout)},
           {"log_requests", o.log_requests},
           {"tls", security.tls},
           {"mutual_tls", security.mutual_tls},
           {"api_keys", security.num_api_keys},  // how many, never which
           {"max_request_bytes", o.limits.max_request_bytes},
           {"max_tokens_limit", o.limits.max_tokens_limit},
           {"max_streams_per_connection", o.limits.max_streams_per_connection}});
}

// Flips readiness when the engine stalls or recovers, and says so.
std::unique_ptr<EngineWatchdog> StartWatchdog(const engine::Engine* engine, absl::Duration timeout,
                                              Readiness* readiness) {
  if (timeout == absl::ZeroDuration()) return nullptr;
  return std::make_unique<EngineWatchdog>(
      engine, timeout,
      [readiness, timeout](bool stalled, const engine::EngineStats& stats,
                           absl::Duration since_progress) {
        const LogFields fields = {
            {"num_running", stats.num_running},
            {"num_waiting", stats.num_waiting},
            {"num_steps", stats.num_steps},
            {"since_last_step_s", std::round(absl::ToDoubleSeconds(since_progress) * 1e3) / 1e3},
            {"watchdog_timeout_s", absl::ToDoubleSeconds(timeout)}};
        if (stalled) {
          LogWarning("engine watchdog: requests pending and no engine step completed in time",
                     fields);
        } else {
          LogInfo("engine watchdog: engine steps complete again", fields);
        }
        readiness->SetStalled(stalled);
      });
}

}  // namespace

int RunServe(const cli::ParsedArgs& args) {
  SetLogFormat(absl::GetFlag(FLAGS_log_format));
  if (GetLogFormat() == LogFormat::kJson) RouteGrpcLogsToLog();
  absl::StatusOr<ServeOptions> options = OptionsFromFlags();
  if (!options.ok()) {
    LogError(options.status().message());
    return 2;
  }
  ServeOptions& o = *options;
  const std::string model_name = engine::ModelNameFromDir(o.engine.model_dir);
  // Recorded whether or not an endpoint serves them.
  auto metrics = std::make_shared<PrometheusMetrics>(model_name);
  o.engine.observer = metrics;

  // Before any thread exists: every thread inherits the blocked mask.
  BlockShutdownSignals();
  IgnoreStraySignals();
  // Certificates and keys are read and checked before any port opens, after the
  // signals are blocked: gRPC credentials start gRPC's threads, which must
  // inherit the blocked mask.
  absl::StatusOr<ServerSecurity> security =
      LoadServerSecurity(o.security, [metrics] { metrics->CountAuthFailure(); });
  if (!security.ok()) {
    LogError(security.status().message());
    return 2;
  }
  if (security->certificate_expired) {
    LogWarning("the --tls-cert certificate has expired: clients will refuse it",
               {{"tls_cert", o.security.tls_cert}});
  }
  // Every address is tried before anything listens: a taken port or a
  // foreign address is one line naming the flag, not a half-started server.
  if (o.metrics_port > 0 && o.metrics_port == o.port) {
    LogError(absl::StrCat("--port and --metrics-port are both ", o.port,
                          ": give them different "
                          "ports (or --metrics-port -1 for no metrics endpoint)"));
    return 2;
  }
  if (o.http_port > 0 && (o.http_port == o.port || o.http_port == o.metrics_port)) {
    LogError(absl::StrCat("--http-port ", o.http_port, " is also ",
                          o.http_port == o.port ? "--port" : "--metrics-port",
                          ": give them different ports"));
    return 2;
  }
  for (auto [port, flag] :
       {std::pair{o.port, "--port"}, std::pair{o.metrics_port, "--metrics-port"},
        std::pair{o.http_port, "--http-port"}}) {
    if (port < 0) continue;
    if (absl::Status s = CheckCanListen(o.host, port, flag); !s.ok()) {
      LogError(s.message());
      return 1;
    }
  }
  std::unique_ptr<RequestLog> request_log;
  if (o.log_requests) request_log = std::make_unique<RequestLog>();

  std::unique_ptr<MetricsServer> metrics_server;
  if (o.metrics_port >= 0) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(o.host, o.metrics_port, metrics->registry());
    if (!started.ok()) {
      LogError(started.status().message());
      return 1;
    }
    metrics_server = *std::move(started);
  }
  const std::string metrics_address = metrics_server ? metrics_server->address() : "";

  // Clients that stop reading lose their stream after --stream-write-timeout.
  // Declared before the service and the server: it outlives both.
  std::unique_ptr<StreamWriteWatchdog> write_watchdog;
  if (o.stream_write_timeout > absl::ZeroDuration()) {
    write_watchdog = std::make_unique<StreamWriteWatchdog>(
        o.stream_write_timeout, [metrics] { metrics->CountStreamWriteTimeout(); });
  }
  // Serving (health, reflection, Inference answering UNAVAILABLE) before the
  // model loads, so probes see "loading" rather than nothing.
  InferenceService service(metrics.get(), request_log.get(), o.limits.max_tokens_limit);
  service.SetStreamWriteWatchdog(write_watchdog.get());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(HostPort(o.host, o.port), security->credentials, &bound_port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(o.limits.max_request_bytes));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, o.limits.max_streams_per_connection);
  // No SO_REUSEPORT: a second inferd on the same port fails to start instead
  // of silently taking half of the connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) {
    LogError(absl::StrCat("cannot listen on ", HostPort(o.host, o.port)));
    KeepUntilExit(std::move(metrics_server));
    return 1;
  }
  // gRPC's default health service starts with "" SERVING: readiness turns it
  // NOT_SERVING right away (before the port is printed).
  HealthReporter health(server->GetHealthCheckService());
  Readiness readiness(&health, metrics.get());
  const std::string grpc_address = HostPort(o.host, bound_port);
  // The OpenAI-compatible HTTP API: the same readiness, admission, engine
  // and metrics. Declared after the gRPC server and readiness, so it is
  // destroyed first.
  std::unique_ptr<ApiKeySet> http_api_keys;  // outlives the service and the server
  http::OpenAiService http_service(metrics.get(), &readiness, o.limits.max_tokens_limit,
                                   absl::GetFlag(FLAGS_served_model_name));
  http_service.SetRequestLog(request_log.get());
  std::unique_ptr<http::HttpServer> http_server;
  if (o.http_port >= 0) {
    // TLS and API keys as on the gRPC port (the files were checked by
    // LoadServerSecurity above).
    if (!o.security.api_key_file.empty()) {
      absl::StatusOr<ApiKeySet> keys = ApiKeySet::LoadFile(o.security.api_key_file);
      if (!keys.ok()) {
        LogError(keys.status().message());
        server->Shutdown(std::chrono::system_clock::now());
        server->Wait();
        KeepUntilExit(std::move(metrics_server));
        return 2;
      }
      http_api_keys = std::make_unique<ApiKeySet>(*std::move(keys));
      http_service.SetApiKeys(http_api_keys.get());
    }
    absl::StatusOr<std::unique_ptr<http::HttpServer>> started =
        http::HttpServer::Start(o.host, o.http_port, &http_service,
                                {.max_body_bytes = o.limits.max_request_bytes,
                                 .write_timeout = o.stream_write_timeout,
                                 .tls_cert = o.security.tls_cert,
                                 .tls_key = o.security.tls_key,
                                 .tls_client_ca = o.security.tls_client_ca});
    if (!started.ok()) {
      LogError(started.status().message());
      server->Shutdown(std::chrono::system_clock::now());
      server->Wait();
      KeepUntilExit(std::move(metrics_server));
      return 1;
    }
    http_server = *std::move(started);
  }
  if (metrics_server != nullptr) absl::PrintF("inferd: metrics on %s\n", metrics_address);
  if (http_server != nullptr) {
    absl::PrintF("inferd: http on %s\n", HostPort(o.host, http_server->port()));
  }
  absl::PrintF("inferd: listening on %s (loading %s)\n", grpc_address, o.engine.model_dir);
  std::fflush(stdout);

  absl::StatusOr<std::unique_ptr<engine::Engine>> loaded = LoadEngine(o);
  if (!loaded.ok()) {
    LogError(
        absl::StrCat("cannot load model ", o.engine.model_dir, ": ", loaded.status().ToString()),
        {{"model_dir", o.engine.model_dir}});
    server->Shutdown(std::chrono::system_clock::now());
    server->Wait();
    KeepUntilExit(std::move(metrics_server));
    return 1;
  }
  std::unique_ptr<engine::Engine> engine = *std::move(loaded);
#ifdef INFERD_HTTP_CHAT
  if (http_server != nullptr) {
    absl::StatusOr<engine::ChatTemplate> chat = engine::ChatTemplate::Load(
        o.engine.tokenizer_dir.empty() ? o.engine.model_dir : o.engine.tokenizer_dir,
        o.chat_template);
    if (!chat.ok() && !o.chat_template.empty()) {
      LogError(absl::StrCat("--chat-template: ", chat.status().message()),
               {{"chat_template", o.chat_template}});
      http_server.reset();
      server->Shutdown(std::chrono::system_clock::now());
      server->Wait();
      KeepUntilExit(std::move(metrics_server));
      return 1;
    }
    if (chat.ok()) {
      LogInfo("chat template loaded", {{"origin", chat->origin()}});
    } else {
      LogInfo(absl::StrCat("no chat template: /v1/chat/completions answers 400 (",
                           chat.status().message(), ")"));
    }
    http_service.SetChatTemplate(std::move(chat));
  }
#endif
  service.SetEngine(engine.get());
  http_service.SetEngine(engine.get());
  readiness.SetLoaded();
  std::unique_ptr<EngineWatchdog> watchdog =
      StartWatchdog(engine.get(), o.watchdog_timeout, &readiness);
  LogStartupSummary(o, *security, engine->model_info(), grpc_address, metrics_address);
  absl::PrintF("inferd: serving %s on %s\n", o.engine.model_dir, grpc_address);
  std::fflush(stdout);

  const int signal = WaitForShutdownSignal();
  // From here a second signal exits at once.
  ShutdownSignalWatcher second_signal([](int again) {
    LogWarning(absl::StrCat(ShutdownSignalName(again), " received during the drain: exiting now"),
               {{"signal", ShutdownSignalName(again)}, {"exit_code", 128 + again}});
    ExitNow(128 + again);
  });
  // HTTP streams drain alongside the gRPC ones, within the same timeout.
  const absl::Time drain_start = absl::Now();
  http_service.StopAdmitting();
  Drain(signal, o.drain_timeout, &service, &readiness, engine.get());
  if (http_server != nullptr &&
      !http_service.streams()->WaitUntilIdle(drain_start + o.drain_timeout)) {
    LogWarning("drain timeout: aborting the HTTP streams still running",
               {{"streams", http_service.streams()->active()}});
    engine->AbortAll(absl::UnavailableError(kDrainAbortMessage));
    http_service.streams()->WaitUntilIdle(absl::Now() + kAbortGrace);
  }
  http_server.reset();  // closes the HTTP connections
  watchdog.reset();     // before the server: it sets the server's health
  // Nothing left to wait for: cancel what remains and close the connections
  // now (a deadline would also wait for idle clients to hang up).
  server->Shutdown(std::chrono::system_clock::now());
  server->Wait();
  server.reset();
  engine.reset();       // stops the engine thread
  request_log.reset();  // writes the last request lines
  KeepUntilExit(std::move(metrics_server));
  LogInfo("stopped", {{"exit_code", 0}});
  return 0;
}

}  // namespace inferd::server
