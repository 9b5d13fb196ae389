// engine/tokenizer/token_decoder.cc — see token_decoder.h.
#include "engine/tokenizer/token_decoder.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/tokenizer/byte_level.h"

namespace inferd::engine {

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<TokenDecoder> TokenDecoder::FromJson(const Json& spec, const std::string& where) {
  TokenDecoder d;
  if (!spec.is_null()) {
    if (absl::Status s = d.Add(spec, where); !s.ok()) return s;
  }
  return d;
}

absl::Status TokenDecoder::Add(const Json& spec, const std::string& where) {
  absl::StatusOr<std::string> type = GetType(spec, where);
  if (!type.ok()) return type.status();
  const std::string here = absl::StrCat(where, " (", *type, ")");
  if (*type == "Sequence") {
    const Json* list = FindField(spec, "decoders");
    if (list == nullptr || !list->is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(here, ": \"decoders\" is not a list"));
    }
    for (size_t i = 0; i < list->size(); ++i) {
      absl::Status s = Add((*list)[i], absl::StrCat(where, ".decoders[", i, "]"));
      if (!s.ok()) return s;
    }
  } else if (*type == "Replace") {
    const Json* pattern = FindField(spec, "pattern");
    const Json* literal = pattern == nullptr ? nullptr : FindField(*pattern, "String");
    if (literal == nullptr || !literal->is_string()) {
      return absl::UnimplementedError(
          absl::StrCat(here, ": only {\"String\": ...} patterns are supported"));
    }
    absl::StatusOr<std::string> content = GetString(spec, "content", "", here);
    if (!content.ok()) return content.status();
    ops_.push_back({Op::Kind::kReplace, literal->get<std::string>(), *content});
  } else if (*type == "ByteFallback") {
    ops_.push_back({Op::Kind::kByteFallback, "", ""});
  } else if (*type == "ByteLevel") {
    ops_.push_back({Op::Kind::kByteLevel, "", ""});
    invalid_utf8_ = InvalidUtf8::kReplaceMaximalSubpart;
  } else if (*type == "Fuse") {
    // Concatenation: what TokenBytes-based decoding does anyway.
  } else if (*type == "Strip") {
    absl::StatusOr<std::string> content = GetString(spec, "content", " ", here);
    absl::StatusOr<int64_t> start = GetInt(spec, "start", 0, here);
    if (!content.ok()) return content.status();
    if (!start.ok()) return start.status();
    // Only the leading-space strip of sentencepiece-style files is modelled;
    // trailing strips ("stop") cannot be streamed and are not applied.
    if (*content == " " && *start > 0) strip_leading_space_ = true;
  } else if (*type == "Metaspace") {
    absl::StatusOr<std::string> repl = GetString(spec, "replacement", "\xE2\x96\x81", here);
    absl::StatusOr<bool> add_prefix = GetBool(spec, "add_prefix_space", true, here);
    absl::StatusOr<std::string> scheme = GetString(spec, "prepend_scheme", "", here);
    if (!repl.ok()) return repl.status();
    if (!add_prefix.ok()) return add_prefix.status();
    if (!scheme.ok()) return scheme.status();
    ops_.push_back({Op::Kind::kReplace, *repl, " "});
    if (*scheme == "always" || *scheme == "first" || (scheme->empty() && *add_prefix)) {
      strip_leading_space_ = true;
    }
  } else {
    return absl::UnimplementedError(
        absl::StrCat(where, ": decoder type \"", *type, "\" is not supported"));
  }
  return absl::OkStatus();
}

std::string TokenDecoder::TokenBytes(std::string_view piece) const {
  std::string cur(piece);
  for (const Op& op : ops_) {
    switch (op.kind) {
      case Op::Kind::kReplace:
        if (!op.from.empty() && cur.find(op.from) != std::string::npos) {
          cur = absl::StrReplaceAll(cur, {{op.from, op.to}});
        }
        break;
      case Op::Kind::kByteFallback:
        if (cur.size() == 6 && cur.compare(0, 3, "<0x") == 0 && cur[5] == '>') {
          const int hi = HexDigit(cur[3]);
          const int lo = HexDigit(cur[4]);
          if (hi >= 0 && lo >= 0) cur.assign(1, static_cast<char>(hi * 16 + lo));
        }
        break;
      case Op::Kind::kByteLevel: {
        // A token with characters outside the byte-level alphabet (an added
        // token such as "<|im_end|>" is inside it) stays as written (HF).
        std::string bytes;
        if (ByteLevelToBytes(cur, &bytes)) cur = std::move(bytes);
        break;
      }
    }
  }
  return cur;
}

}  // namespace inferd::engine
