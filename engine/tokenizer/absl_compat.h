// engine/tokenizer/absl_compat.h — Debian's abseil is built with its own
// absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW is 0), which does not
// convert from std::string_view. This bridges the two at the few places
// that hand a std::string_view to abseil (StrCat, hash-map lookups).
#ifndef INFERD_ENGINE_TOKENIZER_ABSL_COMPAT_H_
#define INFERD_ENGINE_TOKENIZER_ABSL_COMPAT_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace inferd::engine {

inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_ABSL_COMPAT_H_
