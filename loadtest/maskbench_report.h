// loadtest/maskbench_report.h — MaskBench results summed up: the issue's
// table (TBM avg/p50/p75/p90/p95/p99/p99.9/max, TTFM p50/p75/p90/p99,
// passing, compile / validation / invalidation errors, timeouts, crashes),
// per-feature coverage (each file's meta.raw_features: which keywords cost
// the most failures) and the most frequent compile-error messages.
//
// Percentiles as the reference's maskbench_results.py takes them: sorted
// samples, element int(n * p / 100) clamped to the last. TTFM is over the
// schemas that compiled plus one `timeout` value per timeout.
#ifndef INFERD_LOADTEST_MASKBENCH_REPORT_H_
#define INFERD_LOADTEST_MASKBENCH_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "loadtest/maskbench_schema_run.h"
#include "nlohmann/json.hpp"

namespace inferd::loadtest {

// The sorted-sample percentile of the reference (p in [0, 100]); 0 if empty.
int64_t ReferencePercentile(const std::vector<int64_t>& sorted, double p);

// Groups compile errors: JSON pointers become <ptr>, digit runs N, quoted
// names kept ("unsupported keyword 'uniqueItems' at <ptr>").
std::string NormalizeErrorMessage(const std::string& message);

struct MaskbenchSummary {
  int64_t schemas = 0;
  int64_t passing = 0;
  int64_t compile_errors = 0;
  int64_t validation_errors = 0;
  int64_t invalidation_errors = 0;
  int64_t timeouts = 0;
  int64_t crashes = 0;
  int64_t bad_files = 0;
  int64_t tokens = 0;
  int64_t tests = 0;
  // Beyond the reference's table.
  int64_t schemas_with_any_invalid_accepted = 0;
  int64_t invalid_instances_accepted = 0;
  int64_t invalid_accepted_as_prefix_only = 0;
  int64_t valid_instances_rejected = 0;
  int64_t valid_cannot_end = 0;
  int64_t mask_accept_disagreements = 0;
  std::vector<int64_t> tbm_ns;   // sorted
  std::vector<int64_t> ttfm_ns;  // sorted
};

MaskbenchSummary Summarize(const std::vector<SchemaResult>& results, int64_t timeout_ns);

// The whole human report: table, extra counts, feature coverage (top
// `max_features` by failures), top `max_errors` compile-error messages,
// crashes and timeouts by schema id.
std::string FormatReport(const std::vector<SchemaResult>& results, const MaskbenchSummary& s,
                         int max_features, int max_errors);

// Machine-readable: the summary, feature table, error groups and one record
// per schema (no samples).
nlohmann::json ReportJson(const std::vector<SchemaResult>& results, const MaskbenchSummary& s);

}  // namespace inferd::loadtest

#endif  // INFERD_LOADTEST_MASKBENCH_REPORT_H_
