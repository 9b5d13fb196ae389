// tests/unit/spec_decode/medusa_tree_test.cc — `--medusa-tree` parsing (good
// and bad specs with their messages), node order, tokens and the
// tree-attention words.
#include "engine/spec_decode/medusa_tree.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

MedusaTree ParseOrDie(const std::string& spec, int32_t num_heads) {
  absl::StatusOr<MedusaTree> t = ParseMedusaTree(spec, num_heads);
  EXPECT_TRUE(t.ok()) << spec << ": " << t.status();
  return t.ok() ? *std::move(t) : MedusaTree();
}

std::string ErrorOf(const std::string& spec, int32_t num_heads) {
  absl::StatusOr<MedusaTree> t = ParseMedusaTree(spec, num_heads);
  EXPECT_FALSE(t.ok()) << spec << " parsed";
  if (t.ok()) return "";
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << t.status();
  return std::string(t.status().message());
}

// Checks the invariants tree attention needs of any parsed tree.
void ExpectWellFormed(const MedusaTree& t) {
  ASSERT_GE(t.size(), 1);
  ASSERT_EQ(t.depth.size(), t.parents.size());
  ASSERT_EQ(t.rank.size(), t.parents.size());
  EXPECT_EQ(t.parents[0], -1);
  EXPECT_EQ(t.depth[0], 0);
  int32_t max_depth = 0;
  int32_t top_s = 0;
  for (int32_t j = 1; j < t.size(); ++j) {
    EXPECT_GE(t.parents[j], 0);
    EXPECT_LT(t.parents[j], j);
    EXPECT_EQ(t.depth[j], t.depth[t.parents[j]] + 1);
    EXPECT_GE(t.depth[j], t.depth[j - 1]) << "nodes are ordered by depth";
    EXPECT_GE(t.rank[j], 0);
    max_depth = std::max(max_depth, t.depth[j]);
    top_s = std::max(top_s, t.rank[j] + 1);
  }
  EXPECT_EQ(t.max_depth, max_depth);
  EXPECT_EQ(t.top_s, top_s);
}

TEST(MedusaTreeTest, ExplicitPathsAreNumberedByDepthThenPath) {
  const MedusaTree t = ParseOrDie("0;1;0,0;0,1;1,0;0,0,0", 4);
  ExpectWellFormed(t);
  EXPECT_EQ(t.size(), 7);
  EXPECT_THAT(t.parents, ElementsAre(-1, 0, 0, 1, 1, 2, 3));
  EXPECT_THAT(t.depth, ElementsAre(0, 1, 1, 2, 2, 2, 3));
  EXPECT_THAT(t.rank, ElementsAre(-1, 0, 1, 0, 1, 0, 0));
  EXPECT_EQ(t.max_depth, 3);
  EXPECT_EQ(t.top_s, 2);
  EXPECT_EQ(MedusaTreeSpec(t), "0;1;0,0;0,1;1,0;0,0,0");
}

TEST(MedusaTreeTest, PathOrderAndSpacesInTheSpecDoNotMatter) {
  const MedusaTree a = ParseOrDie("0;1;0,0;0,1;1,0;0,0,0", 4);
  const MedusaTree b = ParseOrDie(" 1 , 0;0,0,0 ; 0;0, 1;1;0,0 ", 4);
  EXPECT_EQ(a.parents, b.parents);
  EXPECT_EQ(a.depth, b.depth);
  EXPECT_EQ(a.rank, b.rank);
  EXPECT_EQ(MedusaTreeSpec(b), "0;1;0,0;0,1;1,0;0,0,0");
}

TEST(MedusaTreeTest, SiblingRanksNeedNotBeContiguous) {
  const MedusaTree t = ParseOrDie("2;2,5", 2);
  ExpectWellFormed(t);
  EXPECT_THAT(t.parents, ElementsAre(-1, 0, 1));
  EXPECT_EQ(t.top_s, 6);
}

TEST(MedusaTreeTest, ChainPresetIsTopOneOfEveryHead) {
  const MedusaTree t = ParseOrDie("chain", 4);
  ExpectWellFormed(t);
  EXPECT_EQ(MedusaTreeSpec(t), "0;0,0;0,0,0;0,0,0,0");
  EXPECT_EQ(t.top_s, 1);
  // A chain's words are the causal ones: (2 << r) - 1.
  EXPECT_THAT(TreeMaskWords(t), ElementsAre(1, 3, 7, 15, 16 + 15));
}

TEST(MedusaTreeTest, DefaultPresetFitsTreeAttentionAndFewerHeadsKeepItsShallowPart) {
  const MedusaTree t = ParseOrDie("default", 4);
  ExpectWellFormed(t);
  EXPECT_EQ(MedusaTreeSpec(t), MedusaTreeSpec(ParseOrDie(kDefaultMedusaTreePaths, 4)));
  EXPECT_GE(t.size(), 16);
  EXPECT_LE(t.size(), 33);
  EXPECT_EQ(t.max_depth, 4);
  const MedusaTree two = ParseOrDie("default", 2);
  ExpectWellFormed(two);
  EXPECT_EQ(two.max_depth, 2);
  int32_t shallow = 0;
  for (int32_t j = 1; j < t.size(); ++j) shallow += t.depth[j] <= 2 ? 1 : 0;
  EXPECT_EQ(two.size(), shallow + 1);
}

TEST(MedusaTreeTest, SixtyFourNodesIsTheLimit) {
  std::string spec = "0";
  for (int r = 1; r < 63; ++r) spec += ";" + std::to_string(r);
  const MedusaTree t = ParseOrDie(spec, 1);  // 63 candidates + the root
  EXPECT_EQ(t.size(), 64);
  EXPECT_EQ(TreeMaskWords(t)[63], (uint64_t{1} << 63) | 1);
  EXPECT_THAT(ErrorOf(spec + ";63", 1),
              HasSubstr("the tree has 65 nodes with the root, more than the 64 tree attention "
                        "supports"));
}

TEST(MedusaTreeTest, BadSpecsAreRejectedWithTheProblemNamed) {
  EXPECT_THAT(ErrorOf("", 4), HasSubstr("--medusa-tree is empty"));
  EXPECT_THAT(ErrorOf("  ", 4), HasSubstr("--medusa-tree is empty"));
  EXPECT_THAT(ErrorOf("bushy", 4), HasSubstr("unknown preset \"bushy\" (presets: default, chain"));
  EXPECT_THAT(ErrorOf("0;;1", 4), HasSubstr("path 2 is empty"));
  EXPECT_THAT(ErrorOf("0;1;", 4), HasSubstr("path 3 is empty"));
  EXPECT_THAT(ErrorOf(";0", 4), HasSubstr("path 1 is empty"));
  EXPECT_THAT(ErrorOf("0;0,x", 4),
              HasSubstr("path \"0,x\" has rank \"x\", which is not a non-negative integer"));
  EXPECT_THAT(ErrorOf("0;-1", 4),
              HasSubstr("path \"-1\" has rank \"-1\", which is not a non-negative integer"));
  EXPECT_THAT(ErrorOf("0;0,", 4),
              HasSubstr("path \"0,\" has rank \"\", which is not a non-negative integer"));
  EXPECT_THAT(ErrorOf("0;1.5", 4), HasSubstr("has rank \"1.5\""));
  EXPECT_THAT(ErrorOf("64", 4),
              HasSubstr("path \"64\" has rank 64; ranks count from 0 and must be below 64"));
  EXPECT_THAT(ErrorOf("0;99999999999999999999", 4), HasSubstr("must be below 64"));
  EXPECT_THAT(ErrorOf("0;1,0", 4), HasSubstr("path \"1,0\" needs its parent \"1\" to be a path"));
  EXPECT_THAT(ErrorOf("0;0,0,0", 4),
              HasSubstr("path \"0,0,0\" needs its parent \"0,0\" to be a path"));
  EXPECT_THAT(ErrorOf("0;1;0", 4), HasSubstr("path \"0\" is listed twice"));
  EXPECT_THAT(ErrorOf("0;0,0;0,0,0", 2),
              HasSubstr("path \"0,0,0\" is 3 deep, but the 2 Medusa heads predict only 2 tokens "
                        "ahead"));
}

TEST(MedusaTreeTest, TreeMaskWordsHoldEachNodesAncestorsAndItself) {
  const MedusaTree t = ParseOrDie("0;1;0,0;0,1;1,0;0,0,0", 4);
  // Nodes: 0 root, 1 [0], 2 [1], 3 [0,0], 4 [0,1], 5 [1,0], 6 [0,0,0].
  EXPECT_THAT(TreeMaskWords(t),
              ElementsAre(0b1, 0b11, 0b101, 0b1011, 0b10011, 0b100101, 0b1001011));
}

TEST(MedusaTreeTest, TreeMaskWordsAreWhatTreeAttentionRequires) {
  // kernels/ops.h: bit r set, nothing above r, and each set bit's word a subset.
  for (const std::string spec :
       {"default", "chain", "0;1;2;0,0;1,0;0,1;0,0,0;1,0,0;0,0,0,0", "3;3,3;3,3,3"}) {
    const MedusaTree t = ParseOrDie(spec, 4);
    const std::vector<uint64_t> w = TreeMaskWords(t);
    ASSERT_EQ(static_cast<int32_t>(w.size()), t.size());
    for (int32_t r = 0; r < t.size(); ++r) {
      EXPECT_TRUE(w[r] >> r & 1) << spec << " row " << r;
      EXPECT_EQ(w[r] >> r, 1u) << spec << " row " << r;
      EXPECT_EQ(__builtin_popcountll(w[r]), t.depth[r] + 1) << spec << " row " << r;
      for (int32_t j = 0; j < r; ++j) {
        if (w[r] >> j & 1) {
          EXPECT_EQ(w[j] & ~w[r], 0u) << spec << " rows " << r << ", " << j;
        }
      }
    }
  }
}

TEST(MedusaTreeTest, AssignTreeTokensReadsHeadDepthMinusOneAtTheNodesRank) {
  const MedusaTree t = ParseOrDie("0;1;0,0;0,1;1,0;0,0,0", 4);
  // [num_heads = 4, top_s = 2]
  const std::vector<int32_t> top = {10, 11, 20, 21, 30, 31, 40, 41};
  std::vector<int32_t> tokens(t.size() - 1, -1);
  AssignTreeTokens(t, top.data(), tokens.data());
  EXPECT_THAT(tokens, ElementsAre(10, 11, 20, 21, 20, 30));
}

}  // namespace
}  // namespace inferd::engine
