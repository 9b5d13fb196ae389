// engine/tokenizer/regex.cc — see regex.h.
#include "engine/tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/absl_compat.h"
#include "engine/tokenizer/utf8.h"

namespace inferd::engine {

namespace {

// Unicode White_Space: \t \n \v \f \r, NEL and the Z categories (which hold
// the space, NBSP, U+1680, U+2000..200A, U+2028/9, U+202F, U+205F, U+3000).
constexpr char kSpaceItems[] = "\\t\\n\\x0B\\f\\r\\x{85}\\p{Z}";

pcre2_code* Code(void* p) { return static_cast<pcre2_code*>(p); }

}  // namespace

std::string TranslateWhitespaceClasses(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 32);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[i + 1];
      if (e == 's') {
        absl::StrAppend(&out, in_class ? "" : "[", kSpaceItems, in_class ? "" : "]");
      } else if (e == 'S' && !in_class) {
        absl::StrAppend(&out, "[^", kSpaceItems, "]");
      } else if (e == 'Q') {
        // \Q...\E quotes literally: copy through the closing \E.
        const size_t end = p.find("\\E", i + 2);
        const size_t stop = end == std::string_view::npos ? p.size() : end + 2;
        out.append(p.substr(i, stop - i));
        i = stop - 1;
        continue;
      } else {
        out.push_back(c);
        out.push_back(e);
      }
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out.push_back(c);
      // A leading '^' and then a leading ']' are part of the class syntax.
      if (i + 1 < p.size() && p[i + 1] == '^') out.push_back(p[++i]);
      if (i + 1 < p.size() && p[i + 1] == ']') out.push_back(p[++i]);
      continue;
    }
    if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {
      // POSIX class [:name:] inside a class.
      const size_t end = p.find(":]", i + 2);
      if (end != std::string_view::npos) {
        out.append(p.substr(i, end + 2 - i));
        i = end + 1;
        continue;
      }
    }
    if (in_class && c == ']') in_class = false;
    out.push_back(c);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Regex>> Regex::Compile(std::string_view pattern) {
  std::unique_ptr<Regex> re(new Regex(TranslateWhitespaceClasses(pattern)));
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re->translated_.data()), re->translated_.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return absl::InvalidArgumentError(absl::StrCat("regex '", ToAbsl(pattern),
                                                   "': ", reinterpret_cast<const char*>(message),
                                                   " at offset ", offset));
  }
  // JIT is an optimisation only: the interpreter runs if it is unavailable.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  re->code_ = code;
  return re;
}

Regex::~Regex() { pcre2_code_free(Code(code_)); }

std::vector<std::pair<size_t, size_t>> Regex::FindAll(std::string_view subject) const {
  std::vector<std::pair<size_t, size_t>> matches;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(Code(code_), nullptr);
  if (md == nullptr) return matches;
  const auto* data = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t start = 0;
  while (start <= subject.size()) {
    int rc = pcre2_match(Code(code_), data, subject.size(), start, 0, md, nullptr);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
      // The JIT ran out of stack: the interpreter (heap frames) retries.
      rc = pcre2_match(Code(code_), data, subject.size(), start, PCRE2_NO_JIT, md, nullptr);
    }
    if (rc < 0) break;  // No further match (or a resource limit even so).
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t begin = ov[0];
    const size_t end = ov[1];
    if (end > begin) {
      matches.emplace_back(begin, end);
      start = end;
    } else {
      // Empty match: step over one character (or one invalid byte).
      if (begin >= subject.size()) break;
      start = begin + Utf8CharLen(subject, begin);
    }
  }
  pcre2_match_data_free(md);
  return matches;
}

}  // namespace inferd::engine
