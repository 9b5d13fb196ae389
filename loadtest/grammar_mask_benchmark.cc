// loadtest/grammar_mask_benchmark.cc — time per token mask and compile time
// of the grammar core on a JSON grammar with a real vocabulary.
//
//   build/grammar_mask_benchmark [TOKENIZER_DIR]   (default ../shared/tokenizers/llama3)
//
// Per document: a fresh compile (as MaskBench compiles each schema), then
// the document's tokens fed one by one with a mask before each; then the
// same document again on the grammar's warm cache. "first grammar": the
// first document of the process (every cache entry computed by walking the
// trie); "new grammar": later compiles, whose entries come from the
// process-wide cache shared by grammars with the same sub-automata (the
// same grammar here: an upper bound on sharing). Prints compile time and
// mask time avg/p50/p90/p99/max.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/structured_output/compiled_grammar.h"
#include "engine/structured_output/grammar_matcher.h"
#include "engine/structured_output/token_vocabulary.h"
#include "engine/tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

// A JSON-Schema-like grammar: an object with typed properties, JSON
// whitespace allowed (what the converters emit with whitespace on).
constexpr char kGrammar[] = R"(
root ::= "{" ws "\"name\"" ws ":" ws string ws "," ws "\"age\"" ws ":" ws integer ws "," ws "\"tags\"" ws ":" ws ( "[" ws ( string ( ws "," ws string )* )? ws "]" ) ws ( "," ws "\"extra\"" ws ":" ws value ws )? "}"
value ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" ws ( string ws ":" ws value ( ws "," ws string ws ":" ws value )* )? ws "}"
array ::= "[" ws ( value ( ws "," ws value )* )? ws "]"
string ::= "\"" ( [^"\\\x00-\x1f] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\""
integer ::= "-"? ( "0" | [1-9] [0-9]* )
number ::= integer ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?
ws ::= [ \t\n\r]*
)";

const char* const kDocs[] = {
    R"({"name": "Ada Lovelace", "age": 36, "tags": ["math", "poetry", "engines"], "extra": {"born": 1815, "notes": [1.5, -2e3, null, true]}})",
    R"({"name":"x","age":0,"tags":[]})",
    R"({"name": "Grace \"Amazing\" Hopper\n", "age": 85, "tags": ["cobol", "navy", "compilers", "\u00e9t\u00e9"], "extra": "long string value with many words in it to make a longer token sequence"})",
    R"({ "name" : "Alan" , "age" : 41 , "tags" : [ "a" , "b" ] , "extra" : [ { "k" : [ ] } , { } ] })",
};

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())))];
}

void Print(const char* what, const std::vector<double>& us) {
  double sum = 0;
  for (double x : us) sum += x;
  std::printf("%-22s n=%-5zu avg %8.1f us  p50 %8.1f  p90 %8.1f  p99 %8.1f  max %8.1f\n", what,
              us.size(), us.empty() ? 0 : sum / static_cast<double>(us.size()), Pct(us, 50),
              Pct(us, 90), Pct(us, 99), Pct(us, 100));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace inferd::engine;
  std::string dir =
      argc > 1 ? argv[1] : std::string(INFERD_SOURCE_DIR) + "/../shared/tokenizers/llama3";
  auto tok = Tokenizer::FromDirectory(dir);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", std::string(tok.status().message()).c_str());
    return 1;
  }
  auto t0 = Clock::now();
  auto vocab = TokenVocabulary::FromTokenizer(**tok, {(*tok)->eos_id()});
  double vocab_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  std::printf("vocabulary %d tokens, built (with trie) in %.1f ms\n", vocab->size(), vocab_ms);
  std::vector<double> compile_us, first_us, cold_us, warm_us;
  std::vector<uint32_t> mask(static_cast<size_t>(vocab->bitmask_words()));
  for (int rep = 0; rep < 5; ++rep) {
    for (const char* doc : kDocs) {
      auto c0 = Clock::now();
      auto g = CompileGbnf(kGrammar, vocab);
      compile_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - c0).count());
      if (!g.ok()) {
        std::fprintf(stderr, "%s\n", std::string(g.status().message()).c_str());
        return 1;
      }
      std::vector<int32_t> ids = (*tok)->Encode(doc, false);
      for (int pass = 0; pass < 2; ++pass) {
        GrammarMatcher m(*g);
        for (int32_t id : ids) {
          auto m0 = Clock::now();
          m.FillNextTokenBitmask(mask.data());
          double us = std::chrono::duration<double, std::micro>(Clock::now() - m0).count();
          (pass == 1 ? warm_us : rep == 0 && doc == kDocs[0] ? first_us : cold_us).push_back(us);
          if (!((mask[static_cast<size_t>(id) / 32] >> (id % 32)) & 1) || !m.AcceptToken(id)) {
            std::fprintf(stderr, "token %d refused in %s\n", id, doc);
            return 1;
          }
        }
        if (!m.CanTerminate()) {
          std::fprintf(stderr, "document not complete: %s\n", doc);
          return 1;
        }
      }
    }
  }
  Print("compile (TTFM)", compile_us);
  Print("mask, first grammar", first_us);
  Print("mask, new grammar", cold_us);
  Print("mask, warm cache", warm_us);
  std::vector<double> all = first_us;
  all.insert(all.end(), cold_us.begin(), cold_us.end());
  all.insert(all.end(), warm_us.begin(), warm_us.end());
  Print("mask, all", all);
  return 0;
}
