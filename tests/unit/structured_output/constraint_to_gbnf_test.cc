// tests/unit/structured_output/constraint_to_gbnf_test.cc — ConstraintToGbnf's
// dispatch, ChoiceToGbnf and JsonObjectGbnf as languages.
#include <string>
#include <vector>

#include "engine/structured_output/constraint_to_gbnf.h"
#include "gtest/gtest.h"
#include "tests/unit/structured_output/byte_language.h"

namespace inferd::engine {
namespace {

ByteLanguage Lang(const absl::StatusOr<std::string>& g) {
  EXPECT_TRUE(g.ok()) << g.status();
  absl::StatusOr<ByteLanguage> l = ByteLanguage::Compile(g.ok() ? *g : "root ::= \"x\"");
  EXPECT_TRUE(l.ok()) << (g.ok() ? *g : "") << "\n" << l.status();
  return *std::move(l);
}

TEST(ChoiceToGbnf, ExactlyOneOfTheStrings) {
  ByteLanguage l =
      Lang(ChoiceToGbnf({"yes", "no", "yes", "n\"o\\", "", "\xC3\xA9t\xC3\xA9", "a\nb"}));
  for (const char* s : {"yes", "no", "n\"o\\", "", "\xC3\xA9t\xC3\xA9", "a\nb"})
    EXPECT_TRUE(l.Accepts(s)) << s;
  for (const char* s : {"ye", "yess", "No", "n\"o", " yes", "ete"}) EXPECT_FALSE(l.Accepts(s)) << s;
}

TEST(ChoiceToGbnf, BadChoices) {
  absl::StatusOr<std::string> empty = ChoiceToGbnf({});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(empty.status().message()).find("empty"), std::string::npos);
  absl::StatusOr<std::string> bad_utf8 = ChoiceToGbnf({"ok", "\xC3"});
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_NE(std::string(bad_utf8.status().message()).find("UTF-8"), std::string::npos);
}

TEST(JsonObjectGbnf, AnyObjectCompactOrWithWhitespace) {
  ByteLanguage compact = Lang(JsonObjectGbnf(false));
  ByteLanguage spaced = Lang(JsonObjectGbnf(true));
  for (const char* s :
       {"{}", R"({"a":1})", R"({"a":[1,{"b":null}],"c":"\u00e9"})", R"({"a":1,"a":2})"}) {
    EXPECT_TRUE(compact.Accepts(s)) << s;
    EXPECT_TRUE(spaced.Accepts(s)) << s;
  }
  for (const char* s : {R"({"a": 1})", "{ }", "{\n  \"a\" : [ 1 , 2 ]\n}"}) {
    EXPECT_FALSE(compact.Accepts(s)) << s;
    EXPECT_TRUE(spaced.Accepts(s)) << s;
  }
  for (const char* s : {"[]", "1", R"("x")", "{", R"({"a"})", R"({a:1})", R"({"a":1,})", " {}"}) {
    EXPECT_FALSE(compact.Accepts(s)) << s;
    EXPECT_FALSE(spaced.Accepts(s)) << s;
  }
}

TEST(ConstraintToGbnf, DispatchesOnKind) {
  Constraint c;
  EXPECT_FALSE(ConstraintToGbnf(c).ok());
  c.kind = Constraint::Kind::kRegex;
  c.text = "a+";
  EXPECT_TRUE(Lang(ConstraintToGbnf(c)).Accepts("aaa"));
  c.kind = Constraint::Kind::kGrammar;
  c.text = "root ::= \"x\" [0-9]";
  EXPECT_TRUE(Lang(ConstraintToGbnf(c)).Accepts("x7"));
  c.kind = Constraint::Kind::kChoice;
  c.choices = {"left", "right"};
  EXPECT_TRUE(Lang(ConstraintToGbnf(c)).Accepts("right"));
  c.kind = Constraint::Kind::kJsonObject;
  c.allow_whitespace = true;
  EXPECT_TRUE(Lang(ConstraintToGbnf(c)).Accepts(R"({"k": "v"})"));
  c.kind = Constraint::Kind::kJsonSchema;
  c.text = R"({"type":"integer","maximum":3})";
  ByteLanguage l = Lang(ConstraintToGbnf(c));
  EXPECT_TRUE(l.Accepts("3"));
  EXPECT_FALSE(l.Accepts("4"));
  c.text = R"({"uniqueItems":true,"type":"array"})";
  EXPECT_EQ(ConstraintToGbnf(c).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace inferd::engine
