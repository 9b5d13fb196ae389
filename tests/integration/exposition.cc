// tests/integration/exposition.cc
#include "tests/integration/exposition.h"

#include <cstdlib>
#include <sstream>

namespace inferd::testing {

namespace {

// Parses `{a="x",b="y"}` starting at text[*pos] == '{'; advances *pos past '}'.
bool ParseLabels(const std::string& text, size_t* pos, MetricLabels* labels) {
  size_t i = *pos + 1;
  while (i < text.size() && text[i] != '}') {
    const size_t eq = text.find('=', i);
    if (eq == std::string::npos || eq + 1 >= text.size() || text[eq + 1] != '"') return false;
    const std::string name = text.substr(i, eq - i);
    std::string value;
    size_t j = eq + 2;
    for (; j < text.size() && text[j] != '"'; ++j) {
      if (text[j] == '\\' && j + 1 < text.size()) {
        ++j;
        value.push_back(text[j] == 'n' ? '\n' : text[j]);
      } else {
        value.push_back(text[j]);
      }
    }
    if (j >= text.size()) return false;
    (*labels)[name] = value;
    i = j + 1;
    if (i < text.size() && text[i] == ',') ++i;
  }
  if (i >= text.size()) return false;
  *pos = i + 1;
  return true;
}

}  // namespace

std::vector<MetricSample> Exposition::Find(const std::string& name,
                                           const MetricLabels& match) const {
  std::vector<MetricSample> out;
  for (const MetricSample& s : samples) {
    if (s.name != name) continue;
    bool all = true;
    for (const auto& [key, value] : match) {
      auto it = s.labels.find(key);
      all = all && it != s.labels.end() && it->second == value;
    }
    if (all) out.push_back(s);
  }
  return out;
}

double Exposition::Sum(const std::string& name, const MetricLabels& match) const {
  double sum = 0;
  for (const MetricSample& s : Find(name, match)) sum += s.value;
  return sum;
}

std::optional<Exposition> ParseExposition(const std::string& text, std::string* error) {
  Exposition out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, keyword, family, type;
      words >> hash >> keyword >> family >> type;
      if (keyword == "TYPE") out.types[family] = type;
      continue;
    }
    MetricSample sample;
    size_t pos = line.find_first_of("{ ");
    if (pos == std::string::npos) {
      *error = "bad sample line: " + line;
      return std::nullopt;
    }
    sample.name = line.substr(0, pos);
    if (line[pos] == '{' && !ParseLabels(line, &pos, &sample.labels)) {
      *error = "bad labels: " + line;
      return std::nullopt;
    }
    const std::string rest = line.substr(pos);
    char* end = nullptr;
    sample.value = std::strtod(rest.c_str(), &end);
    if (end == rest.c_str()) {
      *error = "bad value: " + line;
      return std::nullopt;
    }
    out.samples.push_back(std::move(sample));
  }
  return out;
}

}  // namespace inferd::testing
