// engine/tokenizer/added_vocabulary.cc — see added_vocabulary.h.
#include "engine/tokenizer/added_vocabulary.h"

#include <utf8proc.h>

#include "engine/tokenizer/absl_compat.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/utf8.h"

namespace inferd::engine {

namespace {

bool IsWordChar(int32_t cp) {
  if (cp < 0) return false;
  if (cp == '_') return true;
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

// The code point ending right before `end` (-1 if none or invalid).
int32_t LastCodePoint(std::string_view text, size_t end) {
  for (size_t back = 1; back <= 4 && back <= end; ++back) {
    size_t len = 0;
    const int32_t cp = DecodeUtf8(text, end - back, &len);
    if (cp >= 0 && len == back) return cp;
  }
  return -1;
}

int32_t FirstCodePoint(std::string_view text, size_t begin) {
  if (begin >= text.size()) return -1;
  size_t len = 0;
  return DecodeUtf8(text, begin, &len);
}

}  // namespace

void AddedVocabulary::Trie::Insert(std::string_view pattern, int32_t token) {
  int32_t node = 0;
  for (char c : pattern) {
    const auto b = static_cast<uint8_t>(c);
    int32_t next = -1;
    for (const auto& [byte, child] : nodes[node].children) {
      if (byte == b) next = child;
    }
    if (next < 0) {
      next = static_cast<int32_t>(nodes.size());
      nodes[node].children.push_back({b, next});
      nodes.emplace_back();
    }
    node = next;
  }
  nodes[node].token = token;
}

size_t AddedVocabulary::Trie::LongestMatch(std::string_view text, size_t pos,
                                           int32_t* token) const {
  size_t best = 0;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto b = static_cast<uint8_t>(text[i]);
    int32_t next = -1;
    for (const auto& [byte, child] : nodes[node].children) {
      if (byte == b) {
        next = child;
        break;
      }
    }
    if (next < 0) break;
    node = next;
    if (nodes[node].token >= 0) {
      best = i + 1 - pos;
      *token = nodes[node].token;
    }
  }
  return best;
}

void AddedVocabulary::Add(AddedToken token) {
  if (token.content.empty() || token.id < 0) return;
  if (token.id > max_id_) max_id_ = token.id;
  by_content_[token.content] = token.id;
  if (auto it = by_id_.find(token.id); it != by_id_.end()) {
    tokens_[it->second] = std::move(token);
    return;
  }
  by_id_[token.id] = tokens_.size();
  tokens_.push_back(std::move(token));
}

void AddedVocabulary::Build(const Normalizer* normalizer) {
  raw_ = Trie();
  normalized_ = Trie();
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    if (t.normalized) {
      const std::string pattern =
          normalizer != nullptr ? normalizer->Normalize(t.content) : t.content;
      if (!pattern.empty()) normalized_.Insert(pattern, static_cast<int32_t>(i));
    } else {
      raw_.Insert(t.content, static_cast<int32_t>(i));
    }
  }
}

const AddedToken* AddedVocabulary::FindById(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

int32_t AddedVocabulary::FindByContent(std::string_view content) const {
  auto it = by_content_.find(ToAbsl(content));
  return it == by_content_.end() ? -1 : it->second;
}

std::vector<AddedSegment> AddedVocabulary::Split(std::string_view text, const Trie& trie) const {
  std::vector<AddedSegment> out;
  if (trie.nodes.size() <= 1 || text.empty()) {
    if (!text.empty()) out.push_back({0, text.size(), -1});
    return out;
  }
  // Bytes that can start a pattern: skips most positions at once.
  bool first_byte[256] = {};
  for (const auto& [byte, child] : trie.nodes[0].children) first_byte[byte] = true;

  size_t done = 0;  // end of the last emitted segment
  size_t pos = 0;
  while (pos < text.size()) {
    if (!first_byte[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    int32_t index = -1;
    const size_t len = trie.LongestMatch(text, pos, &index);
    if (len == 0) {
      ++pos;
      continue;
    }
    const AddedToken& t = tokens_[index];
    size_t start = pos;
    size_t stop = pos + len;
    pos = stop;
    if (t.single_word &&
        (IsWordChar(LastCodePoint(text, start)) || IsWordChar(FirstCodePoint(text, stop)))) {
      continue;
    }
    if (t.lstrip) {
      while (start > done) {
        const int32_t cp = LastCodePoint(text, start);
        if (!IsUnicodeWhitespace(cp)) break;
        start -= cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      }
    }
    if (t.rstrip) {
      while (stop < text.size()) {
        size_t cp_len = 0;
        const int32_t cp = DecodeUtf8(text, stop, &cp_len);
        if (!IsUnicodeWhitespace(cp)) break;
        stop += cp_len;
      }
      pos = stop;
    }
    if (start > done) out.push_back({done, start, -1});
    out.push_back({start, stop, t.id});
    done = stop;
  }
  if (done < text.size()) out.push_back({done, text.size(), -1});
  return out;
}

}  // namespace inferd::engine
