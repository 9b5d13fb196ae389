// engine/tokenizer/normalizer.cc — see normalizer.h.
#include "engine/tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/utf8.h"

namespace inferd::engine {

namespace {

// Applies a utf8proc normal form to valid UTF-8 (returns false on failure).
bool Utf8procMap(std::string_view valid, int options, std::string* out) {
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid.data()),
                                          static_cast<utf8proc_ssize_t>(valid.size()), &mapped,
                                          static_cast<utf8proc_option_t>(options));
  if (n < 0) return false;
  out->append(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
  std::free(mapped);
  return true;
}

// Calls fn(run, valid) for maximal runs of valid / invalid UTF-8.
template <typename Fn>
void ForEachUtf8Run(std::string_view text, Fn fn) {
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    bool valid = Utf8CharLen(text, i) > 1 || static_cast<uint8_t>(text[i]) < 0x80;
    while (j < text.size()) {
      const size_t len = Utf8CharLen(text, j);
      const bool v = len > 1 || static_cast<uint8_t>(text[j]) < 0x80;
      if (v != valid) break;
      j += len;
    }
    fn(text.substr(i, j - i), valid);
    i = j;
  }
}

std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (true) {
    const size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Normalizer>> Normalizer::FromJson(const Json& spec,
                                                                 const std::string& where) {
  std::unique_ptr<Normalizer> n(new Normalizer());
  if (!spec.is_null()) {
    if (absl::Status s = AddSteps(spec, where, &n->steps_); !s.ok()) return s;
  }
  return n;
}

absl::Status Normalizer::AddSteps(const Json& spec, const std::string& where,
                                  std::vector<Step>* steps) {
  absl::StatusOr<std::string> type = GetType(spec, where);
  if (!type.ok()) return type.status();
  const std::string here = absl::StrCat(where, " (", *type, ")");
  if (*type == "Sequence") {
    const Json* list = FindField(spec, "normalizers");
    if (list == nullptr || !list->is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(here, ": \"normalizers\" is not a list"));
    }
    for (size_t i = 0; i < list->size(); ++i) {
      absl::Status s = AddSteps((*list)[i], absl::StrCat(where, ".normalizers[", i, "]"), steps);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  Step step;
  if (*type == "NFC" || *type == "NFD" || *type == "NFKC" || *type == "NFKD") {
    step.kind = Kind::kUnicodeForm;
    int opt = UTF8PROC_STABLE;
    opt |= (*type == "NFC" || *type == "NFKC") ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE;
    if (*type == "NFKC" || *type == "NFKD") opt |= UTF8PROC_COMPAT;
    step.utf8proc_options = opt;
  } else if (*type == "Prepend") {
    step.kind = Kind::kPrepend;
    absl::StatusOr<std::string> p = GetString(spec, "prepend", "", here);
    if (!p.ok()) return p.status();
    step.text = *p;
  } else if (*type == "Replace") {
    step.kind = Kind::kReplace;
    absl::StatusOr<std::string> content = GetString(spec, "content", "", here);
    if (!content.ok()) return content.status();
    step.text = *content;
    const Json* pattern = FindField(spec, "pattern");
    if (pattern == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(here, ": no \"pattern\""));
    }
    if (const Json* s = FindField(*pattern, "String"); s != nullptr && s->is_string()) {
      step.pattern = s->get<std::string>();
    } else if (const Json* r = FindField(*pattern, "Regex"); r != nullptr && r->is_string()) {
      absl::StatusOr<std::unique_ptr<Regex>> re = Regex::Compile(r->get<std::string>());
      if (!re.ok())
        return absl::InvalidArgumentError(absl::StrCat(here, ": ", re.status().message()));
      step.regex = std::move(*re);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(here, ": \"pattern\" must be {\"String\": ...} or {\"Regex\": ...}"));
    }
  } else if (*type == "Lowercase") {
    step.kind = Kind::kLowercase;
  } else {
    return absl::UnimplementedError(
        absl::StrCat(where, ": normalizer type \"", *type, "\" is not supported"));
  }
  steps->push_back(std::move(step));
  return absl::OkStatus();
}

std::string Normalizer::Apply(const Step& step, std::string_view text) {
  std::string out;
  switch (step.kind) {
    case Kind::kUnicodeForm:
      out.reserve(text.size());
      ForEachUtf8Run(text, [&](std::string_view run, bool valid) {
        if (!valid || !Utf8procMap(run, step.utf8proc_options, &out)) out.append(run);
      });
      return out;
    case Kind::kPrepend:
      // HF: nothing is prepended to an empty text.
      if (text.empty()) return std::string();
      return step.text + std::string(text);
    case Kind::kReplace:
      if (step.regex == nullptr) return ReplaceAll(text, step.pattern, step.text);
      {
        size_t pos = 0;
        for (const auto& [b, e] : step.regex->FindAll(text)) {
          out.append(text.substr(pos, b - pos));
          out.append(step.text);
          pos = e;
        }
        out.append(text.substr(pos));
      }
      return out;
    case Kind::kLowercase:
      out.reserve(text.size());
      for (size_t i = 0; i < text.size();) {
        size_t len = 0;
        const int32_t cp = DecodeUtf8(text, i, &len);
        if (cp < 0) {
          out.push_back(text[i]);
        } else {
          AppendUtf8(static_cast<uint32_t>(utf8proc_tolower(cp)), &out);
        }
        i += len;
      }
      return out;
  }
  return std::string(text);
}

std::string Normalizer::Normalize(std::string_view text) const {
  std::string cur(text);
  for (const Step& step : steps_) cur = Apply(step, cur);
  return cur;
}

}  // namespace inferd::engine
