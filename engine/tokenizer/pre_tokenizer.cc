// engine/tokenizer/pre_tokenizer.cc — see pre_tokenizer.h.
#include "engine/tokenizer/pre_tokenizer.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/split.h"

namespace inferd::engine {

namespace {

using Range = std::pair<size_t, size_t>;

// GPT-2's pattern, used by ByteLevel with use_regex.
constexpr std::string_view kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

std::string PrefixedWith(std::string_view prefix, std::string_view text) {
  std::string out;
  out.reserve(prefix.size() + text.size());
  out.append(prefix);
  out.append(text);
  return out;
}

// Splits every piece; only a sub-piece starting at offset 0 of a `first`
// piece stays `first`.
void SplitPieces(std::vector<PreToken>* pieces, SplitBehavior behavior, bool invert,
                 const Regex* regex, std::string_view literal) {
  std::vector<PreToken> out;
  out.reserve(pieces->size());
  for (PreToken& p : *pieces) {
    const std::vector<Range> matches =
        regex != nullptr ? regex->FindAll(p.text) : FindLiteral(p.text, literal);
    for (const Range& r : SplitRanges(p.text.size(), matches, behavior, invert)) {
      if (r.second <= r.first) continue;
      out.push_back({p.text.substr(r.first, r.second - r.first), p.first && r.first == 0});
    }
  }
  *pieces = std::move(out);
}

absl::StatusOr<SplitBehavior> ParseBehavior(const Json& spec, const std::string& where) {
  absl::StatusOr<std::string> b = GetString(spec, "behavior", "Isolated", where);
  if (!b.ok()) return b.status();
  if (*b == "Removed") return SplitBehavior::kRemoved;
  if (*b == "Isolated") return SplitBehavior::kIsolated;
  if (*b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (*b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (*b == "Contiguous") return SplitBehavior::kContiguous;
  return absl::InvalidArgumentError(absl::StrCat(where, ": unknown split behavior \"", *b, "\""));
}

absl::StatusOr<std::shared_ptr<Regex>> CompileIn(std::string_view pattern,
                                                 const std::string& where) {
  absl::StatusOr<std::unique_ptr<Regex>> re = Regex::Compile(pattern);
  if (!re.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", re.status().message()));
  return std::shared_ptr<Regex>(std::move(*re));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::FromJson(const Json& spec,
                                                                     const std::string& where) {
  std::unique_ptr<PreTokenizer> p(new PreTokenizer());
  if (!spec.is_null()) {
    if (absl::Status s = AddSteps(spec, where, &p->steps_, &p->byte_level_); !s.ok()) return s;
  }
  return p;
}

absl::Status PreTokenizer::AddSteps(const Json& spec, const std::string& where,
                                    std::vector<Step>* steps, bool* byte_level) {
  absl::StatusOr<std::string> type = GetType(spec, where);
  if (!type.ok()) return type.status();
  const std::string here = absl::StrCat(where, " (", *type, ")");
  Step step;
  if (*type == "Sequence") {
    const Json* list = FindField(spec, "pretokenizers");
    if (list == nullptr || !list->is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(here, ": \"pretokenizers\" is not a list"));
    }
    for (size_t i = 0; i < list->size(); ++i) {
      absl::Status s =
          AddSteps((*list)[i], absl::StrCat(where, ".pretokenizers[", i, "]"), steps, byte_level);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  } else if (*type == "Split") {
    absl::StatusOr<SplitBehavior> behavior = ParseBehavior(spec, here);
    if (!behavior.ok()) return behavior.status();
    absl::StatusOr<bool> invert = GetBool(spec, "invert", false, here);
    if (!invert.ok()) return invert.status();
    step.behavior = *behavior;
    step.invert = *invert;
    const Json* pattern = FindField(spec, "pattern");
    if (pattern == nullptr) return absl::InvalidArgumentError(absl::StrCat(here, ": no pattern"));
    if (const Json* s = FindField(*pattern, "String"); s != nullptr && s->is_string()) {
      step.kind = Kind::kSplitString;
      step.literal = s->get<std::string>();
    } else if (const Json* r = FindField(*pattern, "Regex"); r != nullptr && r->is_string()) {
      step.kind = Kind::kSplitRegex;
      absl::StatusOr<std::shared_ptr<Regex>> re = CompileIn(r->get<std::string>(), here);
      if (!re.ok()) return re.status();
      step.regex = *re;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(here, ": \"pattern\" must be {\"String\": ...} or {\"Regex\": ...}"));
    }
  } else if (*type == "ByteLevel") {
    step.kind = Kind::kByteLevel;
    absl::StatusOr<bool> prefix = GetBool(spec, "add_prefix_space", false, here);
    absl::StatusOr<bool> use_regex = GetBool(spec, "use_regex", true, here);
    if (!prefix.ok()) return prefix.status();
    if (!use_regex.ok()) return use_regex.status();
    step.add_prefix_space = *prefix;
    if (*use_regex) {
      absl::StatusOr<std::shared_ptr<Regex>> re = CompileIn(kGpt2Pattern, here);
      if (!re.ok()) return re.status();
      step.regex = *re;
    }
    *byte_level = true;
  } else if (*type == "Metaspace") {
    step.kind = Kind::kMetaspace;
    absl::StatusOr<std::string> repl = GetString(spec, "replacement", "\xE2\x96\x81", here);
    if (!repl.ok()) return repl.status();
    step.literal = *repl;
    absl::StatusOr<bool> split = GetBool(spec, "split", true, here);
    if (!split.ok()) return split.status();
    step.split = *split;
    absl::StatusOr<bool> add_prefix = GetBool(spec, "add_prefix_space", true, here);
    absl::StatusOr<std::string> scheme = GetString(spec, "prepend_scheme", "", here);
    if (!add_prefix.ok()) return add_prefix.status();
    if (!scheme.ok()) return scheme.status();
    if (*scheme == "first") {
      step.prepend = Step::Prepend::kFirst;
    } else if (*scheme == "never" || (scheme->empty() && !*add_prefix)) {
      step.prepend = Step::Prepend::kNever;
    } else if (*scheme == "always" || scheme->empty()) {
      step.prepend = Step::Prepend::kAlways;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(here, ": unknown prepend_scheme \"", *scheme, "\""));
    }
  } else if (*type == "Digits") {
    absl::StatusOr<bool> individual = GetBool(spec, "individual_digits", false, here);
    if (!individual.ok()) return individual.status();
    step.kind = Kind::kSplitRegex;
    absl::StatusOr<std::shared_ptr<Regex>> re = CompileIn(*individual ? "\\p{N}" : "\\p{N}+", here);
    if (!re.ok()) return re.status();
    step.regex = *re;
  } else if (*type == "Whitespace" || *type == "WhitespaceSplit") {
    const bool words = *type == "Whitespace";
    step.kind = Kind::kSplitRegex;
    step.behavior = SplitBehavior::kRemoved;
    step.invert = words;  // Whitespace keeps the matches; WhitespaceSplit drops them.
    absl::StatusOr<std::shared_ptr<Regex>> re = CompileIn(words ? "\\w+|[^\\w\\s]+" : "\\s+", here);
    if (!re.ok()) return re.status();
    step.regex = *re;
  } else {
    return absl::UnimplementedError(
        absl::StrCat(where, ": pre_tokenizer type \"", *type, "\" is not supported"));
  }
  steps->push_back(std::move(step));
  return absl::OkStatus();
}

void PreTokenizer::ApplyStep(const Step& step, std::vector<PreToken>* pieces) {
  switch (step.kind) {
    case Kind::kSplitRegex:
      SplitPieces(pieces, step.behavior, step.invert, step.regex.get(), "");
      return;
    case Kind::kSplitString:
      SplitPieces(pieces, step.behavior, step.invert, nullptr, step.literal);
      return;
    case Kind::kByteLevel: {
      if (step.add_prefix_space) {
        for (PreToken& p : *pieces) {
          if (p.text.empty() || p.text[0] != ' ') p.text = PrefixedWith(" ", p.text);
        }
      }
      if (step.regex != nullptr) {
        SplitPieces(pieces, SplitBehavior::kIsolated, false, step.regex.get(), "");
      }
      for (PreToken& p : *pieces) {
        std::string mapped;
        mapped.reserve(p.text.size() * 2);
        BytesToByteLevel(p.text, &mapped);
        p.text = std::move(mapped);
      }
      return;
    }
    case Kind::kMetaspace: {
      for (PreToken& p : *pieces) {
        std::string replaced;
        for (char c : p.text) {
          if (c == ' ') {
            replaced.append(step.literal);
          } else {
            replaced.push_back(c);
          }
        }
        const bool has_prefix = replaced.compare(0, step.literal.size(), step.literal) == 0;
        const bool prepend = step.prepend == Step::Prepend::kAlways ||
                             (step.prepend == Step::Prepend::kFirst && p.first);
        if (prepend && !has_prefix) replaced = PrefixedWith(step.literal, replaced);
        p.text = std::move(replaced);
      }
      if (step.split) {
        SplitPieces(pieces, SplitBehavior::kMergedWithNext, false, nullptr, step.literal);
      }
      return;
    }
  }
}

std::vector<std::string> PreTokenizer::PreTokenize(std::string_view text,
                                                   bool segment_first) const {
  std::vector<PreToken> pieces;
  if (!text.empty()) pieces.push_back({std::string(text), segment_first});
  for (const Step& step : steps_) ApplyStep(step, &pieces);
  std::vector<std::string> out;
  out.reserve(pieces.size());
  for (PreToken& p : pieces) {
    if (!p.text.empty()) out.push_back(std::move(p.text));
  }
  return out;
}

}  // namespace inferd::engine
