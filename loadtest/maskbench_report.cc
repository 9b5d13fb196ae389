// loadtest/maskbench_report.cc — the table, feature coverage and error groups.
#include "loadtest/maskbench_report.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>

#include "absl/strings/str_format.h"

namespace inferd::loadtest {
namespace {

struct FeatureRow {
  int64_t schemas = 0;
  int64_t passing = 0;
  int64_t compile_errors = 0;
  int64_t validation_errors = 0;
  int64_t invalidation_errors = 0;
  int64_t timeouts_crashes = 0;
  int64_t failures() const {
    return compile_errors + validation_errors + invalidation_errors + timeouts_crashes;
  }
};

std::vector<std::pair<std::string, FeatureRow>> FeatureTable(
    const std::vector<SchemaResult>& results) {
  std::map<std::string, FeatureRow> rows;
  for (const SchemaResult& r : results) {
    for (const std::string& f : r.raw_features) {
      FeatureRow& row = rows[f];
      ++row.schemas;
      switch (r.outcome) {
        case SchemaOutcome::kPass:
          ++row.passing;
          break;
        case SchemaOutcome::kCompileError:
          ++row.compile_errors;
          break;
        case SchemaOutcome::kValidationError:
          ++row.validation_errors;
          break;
        case SchemaOutcome::kInvalidationError:
          ++row.invalidation_errors;
          break;
        default:
          ++row.timeouts_crashes;
          break;
      }
    }
  }
  std::vector<std::pair<std::string, FeatureRow>> out(rows.begin(), rows.end());
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second.failures() > b.second.failures();
  });
  return out;
}

std::vector<std::pair<std::string, int64_t>> ErrorGroups(
    const std::vector<SchemaResult>& results, std::map<std::string, std::string>* example) {
  std::map<std::string, int64_t> counts;
  for (const SchemaResult& r : results) {
    if (r.outcome != SchemaOutcome::kCompileError) continue;
    const std::string key = r.compile_stage + ": " + NormalizeErrorMessage(r.error);
    if (counts[key]++ == 0 && example != nullptr) (*example)[key] = r.id;
  }
  std::vector<std::pair<std::string, int64_t>> out(counts.begin(), counts.end());
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::string Us(int64_t ns) { return absl::StrFormat("%.1f", static_cast<double>(ns) / 1e3); }
std::string Ms(int64_t ns) { return absl::StrFormat("%.2f", static_cast<double>(ns) / 1e6); }

}  // namespace

int64_t ReferencePercentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t idx = static_cast<size_t>(static_cast<double>(sorted.size()) * p / 100.0);
  if (idx >= sorted.size()) idx = sorted.size() - 1;
  return sorted[idx];
}

std::string NormalizeErrorMessage(const std::string& message) {
  std::string out;
  for (size_t i = 0; i < message.size();) {
    const char c = message[i];
    const bool starts_token = i == 0 || message[i - 1] == ' ' || message[i - 1] == '\'' ||
                              message[i - 1] == '"' || message[i - 1] == '(';
    if (c == '/' && starts_token) {  // a JSON pointer: up to the next space or quote
      while (i < message.size() && message[i] != ' ' && message[i] != '\'' && message[i] != '"' &&
             message[i] != ')' && message[i] != ',') {
        ++i;
      }
      out += "<ptr>";
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i < message.size() && std::isdigit(static_cast<unsigned char>(message[i]))) ++i;
      out += "N";
      continue;
    }
    out.push_back(c);
    ++i;
  }
  if (out.size() > 160) out = out.substr(0, 160) + "...";
  return out;
}

MaskbenchSummary Summarize(const std::vector<SchemaResult>& results, int64_t timeout_ns) {
  MaskbenchSummary s;
  for (const SchemaResult& r : results) {
    ++s.schemas;
    s.tests += r.num_tests;
    switch (r.outcome) {
      case SchemaOutcome::kPass:
        ++s.passing;
        break;
      case SchemaOutcome::kCompileError:
        ++s.compile_errors;
        break;
      case SchemaOutcome::kValidationError:
        ++s.validation_errors;
        break;
      case SchemaOutcome::kInvalidationError:
        ++s.invalidation_errors;
        break;
      case SchemaOutcome::kTimeout:
        ++s.timeouts;
        break;
      case SchemaOutcome::kCrash:
        ++s.crashes;
        break;
      case SchemaOutcome::kBadFile:
        ++s.bad_files;
        break;
    }
    if (r.outcome == SchemaOutcome::kTimeout) s.ttfm_ns.push_back(timeout_ns);
    const bool compiled = r.outcome == SchemaOutcome::kPass ||
                          r.outcome == SchemaOutcome::kValidationError ||
                          r.outcome == SchemaOutcome::kInvalidationError;
    if (!compiled) continue;
    s.ttfm_ns.push_back(r.ttfm_ns);
    s.tokens += static_cast<int64_t>(r.mask_ns.size());
    s.tbm_ns.insert(s.tbm_ns.end(), r.mask_ns.begin(), r.mask_ns.end());
    if (r.num_invalidation_errors > 0) ++s.schemas_with_any_invalid_accepted;
    s.invalid_instances_accepted += r.num_invalidation_errors;
    s.invalid_accepted_as_prefix_only += r.num_invalid_accepted_as_prefix;
    s.valid_instances_rejected += r.num_validation_errors;
    s.valid_cannot_end += r.num_valid_cannot_end;
    s.mask_accept_disagreements += r.num_disagreements;
  }
  std::sort(s.tbm_ns.begin(), s.tbm_ns.end());
  std::sort(s.ttfm_ns.begin(), s.ttfm_ns.end());
  return s;
}

std::string FormatReport(const std::vector<SchemaResult>& results, const MaskbenchSummary& s,
                         int max_features, int max_errors) {
  std::string o;
  int64_t tbm_sum = 0;
  for (int64_t v : s.tbm_ns) tbm_sum += v;
  const int64_t tbm_avg = s.tbm_ns.empty() ? 0 : tbm_sum / static_cast<int64_t>(s.tbm_ns.size());
  const auto p = [&](double q) { return ReferencePercentile(s.tbm_ns, q); };
  const auto tp = [&](double q) { return ReferencePercentile(s.ttfm_ns, q); };
  o += "| metric | inferd | llguidance 0.7.10 (published, their machine) |\n";
  o += "|:--|--:|--:|\n";
  o += absl::StrFormat("| TBM avg (µs) | %s | 64 |\n", Us(tbm_avg));
  o += absl::StrFormat("| TBM p50 (µs) | %s | 46 |\n", Us(p(50)));
  o += absl::StrFormat("| TBM p75 (µs) | %s | 55 |\n", Us(p(75)));
  o += absl::StrFormat("| TBM p90 (µs) | %s | 77 |\n", Us(p(90)));
  o += absl::StrFormat("| TBM p95 (µs) | %s | 119 |\n", Us(p(95)));
  o += absl::StrFormat("| TBM p99 (µs) | %s | 533 |\n", Us(p(99)));
  o += absl::StrFormat("| TBM p99.9 (µs) | %s | 1,695 |\n", Us(p(99.9)));
  o += absl::StrFormat("| TBM max (µs) | %s | 33,055 |\n", Us(p(100)));
  o += absl::StrFormat("| TTFM p50 (ms) | %s | 1.04 |\n", Ms(tp(50)));
  o += absl::StrFormat("| TTFM p75 (ms) | %s | 1.53 |\n", Ms(tp(75)));
  o += absl::StrFormat("| TTFM p90 (ms) | %s | 3.03 |\n", Ms(tp(90)));
  o += absl::StrFormat("| TTFM p99 (ms) | %s | 17.99 |\n", Ms(tp(99)));
  o += absl::StrFormat("| tokens | %d | 2,607,859 |\n", s.tokens);
  o += absl::StrFormat("| schemas | %d | 11,306 |\n", s.schemas);
  o += absl::StrFormat("| passing | %d | 8,909 |\n", s.passing);
  o += absl::StrFormat("| compile errors | %d | 2,377 |\n", s.compile_errors);
  o += absl::StrFormat("| validation errors (valid rejected) | %d | 20 |\n", s.validation_errors);
  o += absl::StrFormat("| invalidation errors (invalid accepted) | %d | 0 |\n",
                       s.invalidation_errors);
  o += absl::StrFormat("| timeouts | %d | 0 |\n", s.timeouts);
  o += absl::StrFormat("| crashes | %d | 0 |\n", s.crashes);
  if (s.bad_files > 0) o += absl::StrFormat("| unreadable files | %d | |\n", s.bad_files);
  o += "\n";
  o += absl::StrFormat(
      "Beyond the table: %d schemas with any invalid instance accepted (%d instances, %d of "
      "them only as a prefix: the grammar could not end there); %d valid instances rejected; "
      "%d valid instances accepted whose end the matcher does not accept (CanTerminate false); "
      "%d mask/AcceptToken disagreements; %d test instances.\n\n",
      s.schemas_with_any_invalid_accepted, s.invalid_instances_accepted,
      s.invalid_accepted_as_prefix_only, s.valid_instances_rejected, s.valid_cannot_end,
      s.mask_accept_disagreements, s.tests);

  const auto features = FeatureTable(results);
  o += absl::StrFormat(
      "Feature coverage (meta.raw_features; top %d by failures of %d features):\n\n", max_features,
      features.size());
  o += "| feature | schemas | passing | compile err | validation err | invalidation err | "
       "timeout/crash |\n|:--|--:|--:|--:|--:|--:|--:|\n";
  int shown = 0;
  for (const auto& [name, row] : features) {
    if (shown++ >= max_features || row.failures() == 0) break;
    o += absl::StrFormat("| %s | %d | %d | %d | %d | %d | %d |\n", name, row.schemas, row.passing,
                         row.compile_errors, row.validation_errors, row.invalidation_errors,
                         row.timeouts_crashes);
  }
  std::map<std::string, std::string> example;
  const auto errors = ErrorGroups(results, &example);
  o += absl::StrFormat("\nCompile errors by message (top %d of %d groups):\n\n", max_errors,
                       errors.size());
  o += "| count | stage: message | e.g. |\n|--:|:--|:--|\n";
  shown = 0;
  for (const auto& [msg, n] : errors) {
    if (shown++ >= max_errors) break;
    std::string cell = msg;
    std::replace(cell.begin(), cell.end(), '|', '/');
    std::replace(cell.begin(), cell.end(), '\n', ' ');
    o += absl::StrFormat("| %d | %s | %s |\n", n, cell, example[msg]);
  }
  for (const SchemaResult& r : results) {
    if (r.outcome == SchemaOutcome::kCrash || r.outcome == SchemaOutcome::kTimeout ||
        r.outcome == SchemaOutcome::kBadFile) {
      o += absl::StrFormat("%s: %s (%s)\n", SchemaOutcomeName(r.outcome), r.id, r.error);
    }
  }
  return o;
}

nlohmann::json ReportJson(const std::vector<SchemaResult>& results, const MaskbenchSummary& s) {
  int64_t tbm_sum = 0;
  for (int64_t v : s.tbm_ns) tbm_sum += v;
  nlohmann::json tbm = {{"avg_us", s.tbm_ns.empty() ? 0.0
                                                    : static_cast<double>(tbm_sum) / 1e3 /
                                                          static_cast<double>(s.tbm_ns.size())}};
  for (double q : {25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 100.0}) {
    tbm[absl::StrFormat("p%g_us", q)] = static_cast<double>(ReferencePercentile(s.tbm_ns, q)) / 1e3;
  }
  nlohmann::json ttfm = nlohmann::json::object();
  for (double q : {25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 100.0}) {
    ttfm[absl::StrFormat("p%g_ms", q)] =
        static_cast<double>(ReferencePercentile(s.ttfm_ns, q)) / 1e6;
  }
  nlohmann::json j = {{"tbm", tbm},
                      {"ttfm", ttfm},
                      {"schemas", s.schemas},
                      {"passing", s.passing},
                      {"compile_errors", s.compile_errors},
                      {"validation_errors", s.validation_errors},
                      {"invalidation_errors", s.invalidation_errors},
                      {"timeouts", s.timeouts},
                      {"crashes", s.crashes},
                      {"bad_files", s.bad_files},
                      {"tokens", s.tokens},
                      {"tests", s.tests},
                      {"schemas_with_any_invalid_accepted", s.schemas_with_any_invalid_accepted},
                      {"invalid_instances_accepted", s.invalid_instances_accepted},
                      {"invalid_accepted_as_prefix_only", s.invalid_accepted_as_prefix_only},
                      {"valid_instances_rejected", s.valid_instances_rejected},
                      {"valid_cannot_end", s.valid_cannot_end},
                      {"mask_accept_disagreements", s.mask_accept_disagreements}};
  nlohmann::json features = nlohmann::json::array();
  for (const auto& [name, row] : FeatureTable(results)) {
    features.push_back({{"feature", name},
                        {"schemas", row.schemas},
                        {"passing", row.passing},
                        {"compile_errors", row.compile_errors},
                        {"validation_errors", row.validation_errors},
                        {"invalidation_errors", row.invalidation_errors},
                        {"timeouts_crashes", row.timeouts_crashes}});
  }
  j["features"] = std::move(features);
  std::map<std::string, std::string> example;
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& [msg, n] : ErrorGroups(results, &example)) {
    errors.push_back({{"message", msg}, {"count", n}, {"example", example[msg]}});
  }
  j["compile_error_groups"] = std::move(errors);
  nlohmann::json per_schema = nlohmann::json::array();
  for (const SchemaResult& r : results) {
    nlohmann::json rec = {{"id", r.id},
                          {"outcome", SchemaOutcomeName(r.outcome)},
                          {"ttfm_ms", static_cast<double>(r.ttfm_ns) / 1e6},
                          {"tokens", r.mask_ns.size()}};
    // Where the TBM tail comes from: the slowest mask and the masks over the
    // issue's 500 us p99 target.
    int64_t max_ns = 0;
    int over = 0;
    for (int64_t ns : r.mask_ns) {
      max_ns = std::max(max_ns, ns);
      over += ns > 500'000 ? 1 : 0;
    }
    rec["tbm_max_us"] = static_cast<double>(max_ns) / 1e3;
    rec["tbm_over_500us"] = over;
    if (!r.error.empty()) rec["error"] = r.error;
    per_schema.push_back(std::move(rec));
  }
  j["per_schema"] = std::move(per_schema);
  return j;
}

}  // namespace inferd::loadtest
