// engine/structured_output/token_trie.cc — sorted tokens -> preorder trie.
#include "engine/structured_output/token_trie.h"

#include <algorithm>

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
      path.push_back(static_cast<int32_t>(nodes_.size()));
      nodes_.push_back(n);
    }
    // Equal byte strings are adjacent: they all end at the path's last node.
    nodes_[static_cast<size_t>(path.back())].own_rank_end = static_cast<int32_t>(r) + 1;
    max_depth_ = std::max(max_depth_, static_cast<int32_t>(b.size()));
  }
  close_from(0, static_cast<int32_t>(bytes_.size()));
}

}  // namespace inferd::engine
