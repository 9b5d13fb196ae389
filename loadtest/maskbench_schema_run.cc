// loadtest/maskbench_schema_run.cc — one schema file, the reference's
// protocol (see the header).
#include "loadtest/maskbench_schema_run.h"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <utility>

#include "engine/structured_output/compiled_grammar.h"
#include "engine/structured_output/constraint_to_gbnf.h"
#include "engine/structured_output/grammar_matcher.h"
#include "loadtest/maskbench_json_dumps.h"

namespace inferd::loadtest {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NsSince(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

int64_t ThreadCpuNs() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Instance texts and token strings can be long; the failure report keeps
// enough to see the problem.
std::string Clip(const std::string& s, size_t max_bytes = 2000) {
  if (s.size() <= max_bytes) return s;
  return s.substr(0, max_bytes) + "...";
}

}  // namespace

const char* SchemaOutcomeName(SchemaOutcome outcome) {
  switch (outcome) {
    case SchemaOutcome::kPass:
      return "pass";
    case SchemaOutcome::kCompileError:
      return "compile_error";
    case SchemaOutcome::kValidationError:
      return "validation_error";
    case SchemaOutcome::kInvalidationError:
      return "invalidation_error";
    case SchemaOutcome::kTimeout:
      return "timeout";
    case SchemaOutcome::kCrash:
      return "crash";
    case SchemaOutcome::kBadFile:
      return "bad_file";
  }
  return "?";
}

SchemaResult RunSchemaFile(const std::string& path, const SchemaRunOptions& options) {
  SchemaResult r;
  r.id = Basename(path);
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) {
    r.outcome = SchemaOutcome::kBadFile;
    r.error = "cannot read " + path;
    return r;
  }
  absl::StatusOr<PyJson> file = ParsePyJson(ss.str());
  const PyJson* schema = file.ok() ? file->Find("schema") : nullptr;
  const PyJson* tests = file.ok() ? file->Find("tests") : nullptr;
  if (schema == nullptr || tests == nullptr || tests->kind != PyJson::Kind::kArray) {
    r.outcome = SchemaOutcome::kBadFile;
    r.error = file.ok() ? "no \"schema\" or \"tests\" array" : std::string(file.status().message());
    return r;
  }
  if (const PyJson* meta = file->Find("meta"); meta != nullptr) {
    if (const PyJson* raw = meta->Find("raw_features"); raw != nullptr) {
      for (const PyJson& f : raw->items) {
        if (f.kind == PyJson::Kind::kString) r.raw_features.push_back(f.text);
      }
    }
  }
  r.num_tests = static_cast<int>(tests->items.size());
  if (!options.crash_on.empty() && r.id.find(options.crash_on) != std::string::npos) {
    // Test hook: crash isolation. SIGABRT, as a failed CHECK dies, and not
    // SIGSEGV: a sanitizer build reports a SEGV as its own error (and CI
    // fails on every report), while it leaves an abort alone.
    std::abort();
  }

  // The schema as text, as the reference hands the dict to its engines.
  const std::string schema_text = PyJsonDumps(*schema);
  engine::GrammarLimits limits;
  limits.compile_timeout = options.timeout;
  const Clock::time_point t0 = Clock::now();
  absl::StatusOr<std::string> gbnf =
      engine::JsonSchemaToGbnf(schema_text, options.allow_whitespace);
  absl::StatusOr<std::shared_ptr<const engine::CompiledGrammar>> grammar =
      gbnf.ok() ? engine::CompileGbnf(*gbnf, options.vocab, limits)
                : absl::StatusOr<std::shared_ptr<const engine::CompiledGrammar>>(gbnf.status());
  r.ttfm_ns = NsSince(t0);
  if (gbnf.ok()) r.gbnf_bytes = static_cast<int64_t>(gbnf->size());
  if (!grammar.ok()) {
    const bool timed_out = grammar.status().code() == absl::StatusCode::kDeadlineExceeded ||
                           r.ttfm_ns >= absl::ToInt64Nanoseconds(options.timeout);
    r.outcome = timed_out ? SchemaOutcome::kTimeout : SchemaOutcome::kCompileError;
    r.error = std::string(grammar.status().message());
    r.compile_stage = gbnf.ok() ? "grammar" : "schema";
    return r;
  }

  engine::GrammarMatcher matcher(*grammar);
  std::vector<uint32_t> bitmask(static_cast<size_t>(options.vocab->bitmask_words()));
  const int64_t deadline_ns = absl::ToInt64Nanoseconds(options.timeout);
  bool last_failure_was_invalidation = false;
  bool any_failure = false;
  for (int i = 0; i < r.num_tests; ++i) {
    const PyJson& test = tests->items[static_cast<size_t>(i)];
    const PyJson* data = test.Find("data");
    const PyJson* valid_flag = test.Find("valid");
    if (data == nullptr || valid_flag == nullptr || valid_flag->kind != PyJson::Kind::kBool) {
      r.outcome = SchemaOutcome::kBadFile;
      r.error = "test #" + std::to_string(i) + " lacks \"data\" or a boolean \"valid\"";
      return r;
    }
    const bool valid = valid_flag->boolean;
    matcher.Reset();
    const std::string text = PyJsonDumps(*data);
    const std::vector<int32_t> ids = options.tokenizer->Encode(text, /*add_special_tokens=*/false);
    bool accepted = true;
    int refused_at = -1;
    bool disagree = false;
    for (size_t t = 0; t < ids.size(); ++t) {
      const int32_t id = ids[t];
      const Clock::time_point ts = Clock::now();
      const int64_t cpu0 = options.cpu_clock ? ThreadCpuNs() : 0;
      matcher.FillNextTokenBitmask(bitmask.data());
      bool ok = ((bitmask[static_cast<size_t>(id) / 32] >> (id % 32)) & 1u) != 0;
      if (ok && !matcher.AcceptToken(id)) {
        ok = false;
        disagree = true;
      }
      r.mask_ns.push_back(options.cpu_clock ? ThreadCpuNs() - cpu0 : NsSince(ts));
      if (!ok) {
        accepted = false;
        refused_at = static_cast<int>(t);
        break;
      }
      if (NsSince(t0) > deadline_ns) {
        r.outcome = SchemaOutcome::kTimeout;
        r.error = "masks past the timeout at test #" + std::to_string(i);
        return r;
      }
    }
    if (disagree) ++r.num_disagreements;
    const bool can_end = accepted && matcher.CanTerminate();
    if (accepted == valid) {
      if (valid) {
        ++r.num_valid_ok;
        if (!can_end) ++r.num_valid_cannot_end;
      } else {
        ++r.num_invalid_ok;
      }
      continue;
    }
    any_failure = true;
    last_failure_was_invalidation = accepted;
    InstanceFailure f;
    f.test_index = i;
    f.valid = valid;
    f.num_tokens = static_cast<int>(ids.size());
    f.instance = Clip(text);
    f.mask_accept_disagree = disagree;
    if (accepted) {
      ++r.num_invalidation_errors;
      f.can_terminate = can_end;
      if (!can_end) ++r.num_invalid_accepted_as_prefix;
    } else {
      ++r.num_validation_errors;
      f.token_index = refused_at;
      f.refused_token = options.tokenizer->TokenBytes(ids[static_cast<size_t>(refused_at)]);
      std::string prefix;
      for (int k = 0; k < refused_at; ++k) {
        prefix += options.tokenizer->TokenBytes(ids[static_cast<size_t>(k)]);
      }
      f.accepted_prefix = Clip(prefix);
    }
    r.failures.push_back(std::move(f));
  }
  if (any_failure) {
    r.outcome = last_failure_was_invalidation ? SchemaOutcome::kInvalidationError
                                              : SchemaOutcome::kValidationError;
  }
  return r;
}

nlohmann::json SchemaResultToJson(const SchemaResult& r, bool with_samples) {
  nlohmann::json j = {{"id", r.id},
                      {"outcome", SchemaOutcomeName(r.outcome)},
                      {"ttfm_ns", r.ttfm_ns},
                      {"gbnf_bytes", r.gbnf_bytes},
                      {"num_tests", r.num_tests},
                      {"num_valid_ok", r.num_valid_ok},
                      {"num_invalid_ok", r.num_invalid_ok},
                      {"num_validation_errors", r.num_validation_errors},
                      {"num_invalidation_errors", r.num_invalidation_errors},
                      {"num_invalid_accepted_as_prefix", r.num_invalid_accepted_as_prefix},
                      {"num_valid_cannot_end", r.num_valid_cannot_end},
                      {"num_disagreements", r.num_disagreements},
                      {"num_tokens", r.mask_ns.size()},
                      {"raw_features", r.raw_features}};
  if (!r.error.empty()) j["error"] = r.error;
  if (!r.compile_stage.empty()) j["compile_stage"] = r.compile_stage;
  if (with_samples) j["mask_ns"] = r.mask_ns;
  nlohmann::json failures = nlohmann::json::array();
  for (const InstanceFailure& f : r.failures) {
    nlohmann::json fj = {{"test", f.test_index},
                         {"valid", f.valid},
                         {"num_tokens", f.num_tokens},
                         {"instance", f.instance}};
    if (f.valid) {
      fj["refused_token_index"] = f.token_index;
      fj["refused_token"] = f.refused_token;
      fj["accepted_prefix"] = f.accepted_prefix;
    } else {
      fj["can_terminate"] = f.can_terminate;
    }
    if (f.mask_accept_disagree) fj["mask_accept_disagree"] = true;
    failures.push_back(std::move(fj));
  }
  if (!failures.empty()) j["failures"] = std::move(failures);
  return j;
}

SchemaResult SchemaResultFromJson(const nlohmann::json& j) {
  SchemaResult r;
  r.id = j.at("id").get<std::string>();
  const std::string outcome = j.at("outcome").get<std::string>();
  for (SchemaOutcome o :
       {SchemaOutcome::kPass, SchemaOutcome::kCompileError, SchemaOutcome::kValidationError,
        SchemaOutcome::kInvalidationError, SchemaOutcome::kTimeout, SchemaOutcome::kCrash,
        SchemaOutcome::kBadFile}) {
    if (outcome == SchemaOutcomeName(o)) r.outcome = o;
  }
  r.error = j.value("error", "");
  r.compile_stage = j.value("compile_stage", "");
  r.ttfm_ns = j.at("ttfm_ns").get<int64_t>();
  r.gbnf_bytes = j.value("gbnf_bytes", int64_t{0});
  r.num_tests = j.at("num_tests").get<int>();
  r.num_valid_ok = j.at("num_valid_ok").get<int>();
  r.num_invalid_ok = j.at("num_invalid_ok").get<int>();
  r.num_validation_errors = j.at("num_validation_errors").get<int>();
  r.num_invalidation_errors = j.at("num_invalidation_errors").get<int>();
  r.num_invalid_accepted_as_prefix = j.at("num_invalid_accepted_as_prefix").get<int>();
  r.num_valid_cannot_end = j.at("num_valid_cannot_end").get<int>();
  r.num_disagreements = j.at("num_disagreements").get<int>();
  r.raw_features = j.at("raw_features").get<std::vector<std::string>>();
  if (j.contains("mask_ns")) r.mask_ns = j.at("mask_ns").get<std::vector<int64_t>>();
  if (j.contains("failures")) {
    for (const nlohmann::json& fj : j.at("failures")) {
      InstanceFailure f;
      f.test_index = fj.at("test").get<int>();
      f.valid = fj.at("valid").get<bool>();
      f.num_tokens = fj.at("num_tokens").get<int>();
      f.instance = fj.at("instance").get<std::string>();
      f.token_index = fj.value("refused_token_index", -1);
      f.refused_token = fj.value("refused_token", "");
      f.accepted_prefix = fj.value("accepted_prefix", "");
      f.can_terminate = fj.value("can_terminate", false);
      f.mask_accept_disagree = fj.value("mask_accept_disagree", false);
      r.failures.push_back(std::move(f));
    }
  }
  return r;
}

}  // namespace inferd::loadtest
