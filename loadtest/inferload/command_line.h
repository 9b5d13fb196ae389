// loadtest/inferload/command_line.h — inferload's flags (absl flags parsed by
// tools/cli) and their checked form, Options.
//
// Exactly one arrival source: --request-rate (open loop), --concurrency
// (closed loop) or --trace (replay). Combinations that make no sense are
// errors naming the flag; main() exits 2 on them.
#ifndef INFERD_LOADTEST_INFERLOAD_COMMAND_LINE_H_
#define INFERD_LOADTEST_INFERLOAD_COMMAND_LINE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "loadtest/inferload/lengths.h"
#include "loadtest/inferload/metrics.h"
#include "tools/cli/subcommand_flags.h"

namespace inferd::inferload {

enum class ArrivalKind { kRate, kConcurrency, kTrace };

// Which API the streams use: gRPC Generate on --addr, or the OpenAI
// `POST /v1/completions` (stream: true) on --http-addr. The calls before the
// run (GetModelInfo, Tokenize) go to --addr either way, so both protocols
// run the same workload.
enum class Protocol { kGrpc, kOpenAi };

struct Options {
  std::string addr;
  Protocol protocol = Protocol::kGrpc;
  std::string http_addr;                // kOpenAi: as given
  std::string http_host;                // kOpenAi: without brackets
  int http_port = 0;                    // kOpenAi
  std::optional<int64_t> num_requests;  // nullopt: every line of the trace
  ArrivalKind arrival = ArrivalKind::kRate;
  double request_rate = 0;                        // kRate; may be infinity
  double burstiness = 1.0;                        // kRate
  int concurrency = 0;                            // kConcurrency
  std::string trace_path;                         // kTrace
  WorkloadKind workload = WorkloadKind::kRandom;  // kTrace when replaying
  std::string dataset_path;                       // kDataset
  LengthOptions lengths;
  Slo slo;
  uint64_t seed = 0;
  std::string json_out;
  double max_duration_s = 600;
  bool progress = true;
  int32_t priority = 0;
  float temperature = 0;
};

// The flags inferload accepts, for tools/cli (spec.name = "inferload").
const cli::SubcommandSpec& InferloadSpec();

// Options from the parsed flags; INVALID_ARGUMENT naming the flag otherwise.
absl::StatusOr<Options> OptionsFromFlags(const cli::ParsedArgs& args);

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_COMMAND_LINE_H_
