// engine/structured_output/token_trie.cc — sorted tokens -> preorder trie.
#include "engine/structured_output/token_trie.h"

#include <algorithm>

#include "engine/structured_output/utf8_sequences.h"

namespace inferd::engine {

TokenTrie::TokenTrie(const std::vector<std::string>& bytes, const std::vector<bool>& skip) {
  for (size_t id = 0; id < bytes.size(); ++id) {
    if (!skip[id] && !bytes[id].empty()) ids_.push_back(static_cast<int32_t>(id));
  }
  std::stable_sort(ids_.begin(), ids_.end(), [&](int32_t a, int32_t b) {
    return bytes[static_cast<size_t>(a)] < bytes[static_cast<size_t>(b)];
  });
  bytes_.reserve(ids_.size());
  for (int32_t id : ids_) bytes_.push_back(bytes[static_cast<size_t>(id)]);
  ascii_bytes_.reserve(bytes_.size());
  for (const std::string& b : bytes_) {
    std::array<uint64_t, 2> set = {0, 0};
    for (char c : b) {
      const auto u = static_cast<uint8_t>(c);
      if (u < 0x80) set[u / 64] |= uint64_t{1} << (u % 64);
    }
    ascii_bytes_.push_back(set);
  }

  // path[d] = node index at depth d+1 on the current path.
  std::vector<int32_t> path;
  auto close_from = [&](size_t depth, int32_t rank) {
    while (path.size() > depth) {
      Node& n = nodes_[static_cast<size_t>(path.back())];
      n.end = static_cast<int32_t>(nodes_.size());
      n.sub_rank_end = rank;
      path.pop_back();
    }
  };
  for (size_t r = 0; r < bytes_.size(); ++r) {
    const std::string& b = bytes_[r];
    size_t lcp = 0;
    if (r > 0) {
      const std::string& p = bytes_[r - 1];
      while (lcp < p.size() && lcp < b.size() && p[lcp] == b[lcp]) ++lcp;
    }
    close_from(lcp, static_cast<int32_t>(r));
    for (size_t d = lcp; d < b.size(); ++d) {
      Node n;
      n.byte = static_cast<uint8_t>(b[d]);
      n.depth = static_cast<int32_t>(d + 1);
      n.end = -1;
      n.rank_begin = static_cast<int32_t>(r);
      n.own_rank_end = static_cast<int32_t>(r);
      n.sub_rank_end = -1;
      n.summary = -1;
      path.push_back(static_cast<int32_t>(nodes_.size()));
      nodes_.push_back(n);
    }
    // Equal byte strings are adjacent: they all end at the path's last node.
    nodes_[static_cast<size_t>(path.back())].own_rank_end = static_cast<int32_t>(r) + 1;
    max_depth_ = std::max(max_depth_, static_cast<int32_t>(b.size()));
  }
  close_from(0, static_cast<int32_t>(bytes_.size()));
  // Children follow their parent in preorder: one backward pass.
  bytes_below_.assign(nodes_.size(), 0);
  for (size_t i = nodes_.size(); i-- > 0;) {
    const Node& n = nodes_[i];
    int32_t most = 0;
    for (auto j = static_cast<int32_t>(i) + 1; j < n.end; j = nodes_[static_cast<size_t>(j)].end) {
      most = std::max(most, 1 + bytes_below_[static_cast<size_t>(j)]);
    }
    bytes_below_[i] = most;
  }
  Summarize();
}

// One scan of each large subtree (nested ones are scanned again: the sum is
// the node count times the nesting depth of large subtrees, a few).
void TokenTrie::Summarize() {
  std::vector<int> utf8(static_cast<size_t>(max_depth_) + 2);
  std::vector<int> chars(utf8.size());
  // path[d]: the decoder state after the path's first d bytes.
  std::vector<int> path(utf8.size());
  path[0] = kUtf8Boundary;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    const auto base = static_cast<size_t>(n.depth);
    path[base] = Utf8Feed(path[base - 1], n.byte);
    if (n.end - static_cast<int32_t>(i) - 1 < kSummaryMinNodes) continue;
    Summary s = {{0, 0}, false, path[base] != kUtf8Invalid, 0, static_cast<int8_t>(path[base])};
    // Decoding goes on from the path's state: a node inside a character
    // is complete when every token below finishes it and then holds whole
    // characters.
    utf8[0] = path[base];
    chars[0] = 0;
    int max_chars = 0;
    for (auto j = static_cast<size_t>(i) + 1; j < static_cast<size_t>(n.end); ++j) {
      const Node& m = nodes_[j];
      const uint8_t b = m.byte;
      if (b < 0x80) {
        s.ascii[b / 64] |= uint64_t{1} << (b % 64);
      } else {
        s.non_ascii = true;
      }
      const size_t rel = static_cast<size_t>(m.depth) - base;
      utf8[rel] = Utf8Feed(utf8[rel - 1], b);
      chars[rel] = chars[rel - 1] + (utf8[rel] == kUtf8Boundary ? 1 : 0);
      if (m.own_rank_end > m.rank_begin) {
        if (utf8[rel] != kUtf8Boundary) s.utf8_complete = false;
        max_chars = std::max(max_chars, chars[rel]);
      }
      if (utf8[rel] == kUtf8Invalid) s.utf8_complete = false;
    }
    s.max_chars = max_chars;
    n.summary = static_cast<int32_t>(summaries_.size());
    summaries_.push_back(s);
  }
}

}  // namespace inferd::engine
