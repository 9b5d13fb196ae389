// loadtest/maskbench_schema_run.h — one MaskBench schema file through
// inferd's grammar engine, following the reference harness
// (jsonschemabench maskbench/runner.py) step for step:
//
//   compile (TTFM: JsonSchemaToGbnf + CompileGbnf, JSON whitespace allowed);
//   for each test instance: Reset the matcher; text = json.dumps(data)
//   (maskbench_json_dumps.h); ids = Llama 3 Encode(text, no special tokens);
//   for each id: [FillNextTokenBitmask; allowed = bit set; if allowed
//   AcceptToken] — that span is one TBM sample; stop at the first id the
//   mask refuses.
//
// An instance is "accepted" when every id was allowed (the reference does
// not ask whether the grammar could end there; CanTerminate is recorded on
// the side). The schema's outcome is the reference's: the last instance
// whose verdict disagrees with its `valid` flag decides between validation
// error (a valid one rejected) and invalidation error (an invalid one
// accepted); both counts are kept too.
#ifndef INFERD_LOADTEST_MASKBENCH_SCHEMA_RUN_H_
#define INFERD_LOADTEST_MASKBENCH_SCHEMA_RUN_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/structured_output/token_vocabulary.h"
#include "engine/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"

namespace inferd::loadtest {

enum class SchemaOutcome {
  kPass,
  kCompileError,
  kValidationError,    // a valid instance rejected (the reference's last verdict)
  kInvalidationError,  // an invalid instance accepted
  kTimeout,
  kCrash,    // the child died (signal) on this schema
  kBadFile,  // the file itself could not be read as MaskBench JSON
};
const char* SchemaOutcomeName(SchemaOutcome outcome);

struct InstanceFailure {
  int test_index = 0;
  bool valid = false;    // the instance's flag; valid = rejected wrongly
  int token_index = -1;  // the refused id's position (valid ones), -1 if none
  int num_tokens = 0;
  bool can_terminate = false;  // after the last id (invalid ones accepted)
  std::string instance;        // the json.dumps text
  std::string refused_token;   // its bytes
  std::string accepted_prefix;
  bool mask_accept_disagree = false;  // mask allowed it but AcceptToken refused
};

struct SchemaResult {
  std::string id;  // the file name
  SchemaOutcome outcome = SchemaOutcome::kPass;
  std::string error;          // compile error / crash / bad file text
  std::string compile_stage;  // "schema" (JsonSchemaToGbnf) or "grammar" (CompileGbnf)
  int64_t ttfm_ns = 0;
  int64_t gbnf_bytes = 0;
  int num_tests = 0;
  int num_valid_ok = 0;
  int num_invalid_ok = 0;
  int num_validation_errors = 0;           // instances
  int num_invalidation_errors = 0;         // instances
  int num_invalid_accepted_as_prefix = 0;  // of those: CanTerminate false at the end
  int num_valid_cannot_end = 0;            // valid, every id allowed, but CanTerminate false
  int num_disagreements = 0;               // mask bit set, AcceptToken false (an engine bug)
  std::vector<int64_t> mask_ns;            // one TBM sample per id fed
  std::vector<std::string> raw_features;
  std::vector<InstanceFailure> failures;
};

struct SchemaRunOptions {
  std::shared_ptr<const engine::TokenVocabulary> vocab;
  const engine::Tokenizer* tokenizer = nullptr;
  absl::Duration timeout = absl::Seconds(60);  // compile + all instances
  bool allow_whitespace = true;
  // TBM samples by the thread's CPU clock instead of the wall clock: time
  // the process was preempted (another job on a shared machine) does not
  // count, so before/after comparisons of the engine are less noisy. Not
  // the published metric (which is wall time).
  bool cpu_clock = false;
  // Test hook: raise SIGSEGV when the file name contains this (non-empty).
  std::string crash_on;
};

// Never fails: every problem is an outcome.
SchemaResult RunSchemaFile(const std::string& path, const SchemaRunOptions& options);

// One line of the child -> parent pipe, and back.
nlohmann::json SchemaResultToJson(const SchemaResult& r, bool with_samples);
SchemaResult SchemaResultFromJson(const nlohmann::json& j);

}  // namespace inferd::loadtest

#endif  // INFERD_LOADTEST_MASKBENCH_SCHEMA_RUN_H_
