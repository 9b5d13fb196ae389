// tests/integration/exposition.h — the Prometheus text exposition format (what
// GET /metrics returns), parsed into samples so tests can sum series.
#ifndef INFERD_TESTS_INTEGRATION_EXPOSITION_H_
#define INFERD_TESTS_INTEGRATION_EXPOSITION_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace inferd::testing {

using MetricLabels = std::map<std::string, std::string>;

struct MetricSample {
  std::string name;  // "inferd:ttft_seconds_bucket"
  MetricLabels labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types;  // family -> "counter", from # TYPE
  std::vector<MetricSample> samples;

  // The samples named `name` whose labels include every pair of `match`.
  std::vector<MetricSample> Find(const std::string& name, const MetricLabels& match = {}) const;
  // Their values summed (0 when there is none).
  double Sum(const std::string& name, const MetricLabels& match = {}) const;
};

// nullopt, with the offending line in *error, when a line is not a comment,
// blank or `name{labels} value [timestamp]`.
std::optional<Exposition> ParseExposition(const std::string& text, std::string* error);

}  // namespace inferd::testing

#endif  // INFERD_TESTS_INTEGRATION_EXPOSITION_H_
