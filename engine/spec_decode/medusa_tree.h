// engine/spec_decode/medusa_tree.h — the candidate tree Medusa verifies in
// one target pass (DESIGN §6), its `--medusa-tree` spelling, its tokens and
// its tree-attention mask.
//
// Node 0 is the root: the token the target's own LM head chose last step
// (verified already, it is the first new token of the step). Every other node
// is a candidate for one position ahead of its parent: a node at depth d with
// rank r holds head (d - 1)'s r-th best token (Medusa-1 heads all read the
// root's hidden state, so a node's token does not depend on its parent's).
// A path of ranks (r1, ..., rd) names the node at depth d reached through
// ranks r1, r2, ... Nodes are numbered depth by depth and, within a depth,
// in lexicographic order of their paths (Medusa's own order), so a parent
// always comes before its children: the order tree attention requires.
// Immutable once built.
#ifndef INFERD_ENGINE_SPEC_DECODE_MEDUSA_TREE_H_
#define INFERD_ENGINE_SPEC_DECODE_MEDUSA_TREE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace inferd::engine {

// Tree attention gives each query row one 64-bit ancestor word
// (kernels::PagedAttentionParams::tree_mask), so a tree has at most 64 nodes,
// the root included.
inline constexpr int32_t kMaxMedusaTreeNodes = 64;

struct MedusaTree {
  // All three are indexed by node, [size()]; node 0 is the root.
  std::vector<int32_t> parents;  // parents[0] = -1; parents[j] in [0, j) for j >= 1
  std::vector<int32_t> depth;    // depth[0] = 0; depth[j] = depth[parents[j]] + 1
  std::vector<int32_t> rank;     // rank[0] = -1; rank[j] in [0, top_s): head depth[j]-1's rank
  int32_t max_depth = 0;         // deepest node: the heads the tree reads
  int32_t top_s = 0;             // max rank + 1: candidates per head the tree needs

  int32_t size() const { return static_cast<int32_t>(parents.size()); }
};

// Parses `--medusa-tree SPEC`: a preset name or an explicit list of paths.
//   presets: "default" (kDefaultMedusaTreePaths: 28 nodes, 4 deep; with fewer
//            heads its paths up to num_heads deep), "chain" (top-1 of every
//            head: 0;0,0;0,0,0;... num_heads deep)
//   paths:   ';'-separated, each a ','-separated list of ranks, e.g.
//            "0;1;0,0;0,1;1,0;0,0,0". Every prefix of a path must be a path
//            too; a path may be listed once; a path is at most num_heads deep;
//            a rank is below 64; spaces around ranks are ignored.
// Errors (INVALID_ARGUMENT) quote the offending path.
absl::StatusOr<MedusaTree> ParseMedusaTree(std::string_view spec, int32_t num_heads);

// The paths of `tree` in node order, in ParseMedusaTree's syntax (the root
// has no path and is left out).
std::string MedusaTreeSpec(const MedusaTree& tree);

// Candidate tokens of nodes 1..size()-1: tokens[j - 1] = head_top_ids[(depth[j] - 1) * top_s
// + rank[j]].
//   head_top_ids: [>= tree.max_depth, tree.top_s], one row per head in
//                 descending logit order (MedusaHeads::TopS with top_s = tree.top_s)
//   tokens:       [tree.size() - 1]
void AssignTreeTokens(const MedusaTree& tree, const int32_t* head_top_ids, int32_t* tokens);

// Per node 0..size()-1, its tree-attention word: bit j set iff node j is the
// node itself or one of its ancestors (the root's word is 1). The verify rows
// of a sequence are the nodes in order, so these are exactly the words
// kernels::PagedAttentionParams::tree_mask expects for them.
std::vector<uint64_t> TreeMaskWords(const MedusaTree& tree);

// The default tree's paths (see medusa_tree.cc for how it was chosen).
extern const char kDefaultMedusaTreePaths[];

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SPEC_DECODE_MEDUSA_TREE_H_
