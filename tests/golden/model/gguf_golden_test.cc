// GGUF files made by llama.cpp's own converter (convert_hf_to_gguf.py
// --outtype f32) from the safetensors checkpoints reproduce them: the same
// last-position logits bit for bit (llama's q/k rows, which the converter
// permutes for its RoPE layout, put back), the golden greedy ids through the
// engine with --model FILE.gguf, and the GGUF's own tokenizer
// (tokenizer.ggml.*) encoding the golden prompts to the golden ids.
//
// The files: tests/golden/model/data/stories260K-f32.gguf (1 MB, committed;
// made by `../shared/scripts/llamacpp-peer.sh convert WORK
// ../shared/models/stories260K OUT f32` at llama.cpp c392e509); tiny-llama's
// and tiny-mixtral's (36 and 47 MB) are converted in the test when
// INFERD_LLAMACPP_WORK names a WORK
// directory holding llamacpp/convert_hf_to_gguf.py (llamacpp-peer.sh's
// layout) and Debian's python3-numpy/torch/sentencepiece are installed, and
// skipped with that reason otherwise.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "engine/engine.h"
#include "engine/kv_cache/kv_cache_tensors.h"
#include "engine/model/config.h"
#include "engine/model/gguf_config.h"
#include "engine/model/gguf_file.h"
#include "engine/model/safetensors.h"
#include "engine/model/transformer.h"
#include "engine/model/weight_store.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/engine_test_util.h"
#include "tests/test_util.h"
#include "tests/unit/model/safetensors_writer.h"

namespace inferd::testing {
namespace {

namespace fs = std::filesystem;

// The F32 GGUF of ../shared/models/<model>: committed, or converted once per
// process into a temporary directory; "" with *why set when neither can be.
std::string GgufOf(const std::string& model, std::string* why) {
  const std::string committed =
      std::string(INFERD_SOURCE_DIR) + "/tests/golden/model/data/" + model + "-f32.gguf";
  if (fs::exists(committed)) return committed;
  static std::map<std::string, std::string>* converted = new std::map<std::string, std::string>();
  if (auto it = converted->find(model); it != converted->end()) return it->second;
  const char* work = std::getenv("INFERD_LLAMACPP_WORK");
  if (work == nullptr || !fs::exists(fs::path(work) / "llamacpp" / "convert_hf_to_gguf.py")) {
    *why = "no " + model +
           " GGUF: set INFERD_LLAMACPP_WORK to a llamacpp-peer.sh WORK directory "
           "(WORK/llamacpp/convert_hf_to_gguf.py) to convert it";
    return "";
  }
  const fs::path dir =
      fs::temp_directory_path() / ("inferd-gguf-golden-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string out = (dir / (model + "-f32.gguf")).string();
  const std::string cmd = SharedPath("scripts/llamacpp-peer.sh") + " convert " + work + " " +
                          SharedPath("models/" + model) + " " + out + " f32 > " +
                          (dir / (model + ".log")).string() + " 2>&1";
  if (std::system(cmd.c_str()) != 0 || !fs::exists(out)) {
    *why = "llama.cpp's converter failed (python3-numpy/torch/sentencepiece missing?): see " +
           (dir / (model + ".log")).string();
    return "";
  }
  (*converted)[model] = out;
  return out;
}

struct Case {
  const char* model;
  const char* golden;  // under ../shared/golden
};

class GgufGoldenTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    INFERD_REQUIRE_SHARED(std::string("models/") + GetParam().model);
    INFERD_REQUIRE_SHARED(std::string("golden/") + GetParam().golden);
    std::string why;
    gguf_ = GgufOf(GetParam().model, &why);
    if (gguf_.empty()) GTEST_SKIP() << why;
    std::ifstream in(SharedPath(std::string("golden/") + GetParam().golden));
    const nlohmann::json golden = nlohmann::json::parse(in);
    for (const auto& p : golden["prompts"]) {
      Prompt prompt;
      const bool llamacpp = p.contains("token_ids");  // tiny-*.json vs stories260K-greedy.json
      prompt.text = llamacpp ? p["text"] : p["prompt"];
      prompt.ids = p[llamacpp ? "token_ids" : "prompt_ids"].get<std::vector<int32_t>>();
      prompt.greedy = p[llamacpp ? "greedy_ids" : "generated_ids"].get<std::vector<int32_t>>();
      prompts_.push_back(std::move(prompt));
    }
  }
  struct Prompt {
    std::string text;
    std::vector<int32_t> ids;
    std::vector<int32_t> greedy;
  };
  std::string gguf_;
  std::vector<Prompt> prompts_;
};

// Last-position logits of each prompt from a model loaded from `weights`.
// The prompt ids of ../shared/golden/stories260K-greedy.json. (Parsed into a
// local first: a range-for over a temporary's member reads freed memory.)
std::vector<std::vector<int32_t>> Stories260kPromptIds() {
  std::ifstream in(SharedPath("golden/stories260K-greedy.json"));
  const nlohmann::json golden = nlohmann::json::parse(in);
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& p : golden["prompts"]) {
    prompts.push_back(p["prompt_ids"].get<std::vector<int32_t>>());
  }
  return prompts;
}

std::vector<std::vector<float>> Logits(const engine::ModelConfig& config,
                                       const engine::WeightStore& weights,
                                       const std::vector<std::vector<int32_t>>& prompts,
                                       engine::WeightQuantization quant = {}) {
  auto model = engine::Transformer::Load(config, weights, kernels::DType::kF32, nullptr, quant);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return {};
  const int64_t vocab = config.vocab_size;
  const int32_t block_size = 16;
  engine::KvCacheTensors kv((*model)->backend(), config.num_hidden_layers, 8, block_size,
                            (*model)->kv_dim(), kernels::DType::kF32);
  std::vector<std::vector<float>> out;
  for (const std::vector<int32_t>& ids : prompts) {
    if (ids.size() > 8u * block_size) continue;
    engine::InputBatch batch;
    batch.Clear();
    for (size_t i = 0; i < ids.size(); ++i) {
      batch.token_ids.push_back(ids[i]);
      batch.positions.push_back(static_cast<int32_t>(i));
      batch.slot_mapping.push_back(static_cast<int32_t>(i));
    }
    batch.query_start.push_back(static_cast<int32_t>(ids.size()));
    batch.seq_lens.push_back(static_cast<int32_t>(ids.size()));
    batch.max_blocks_per_seq = 8;
    batch.block_tables = {0, 1, 2, 3, 4, 5, 6, 7};
    batch.logits_rows.push_back(static_cast<int32_t>(ids.size()) - 1);
    std::vector<float> logits(vocab);
    (*model)->Forward(batch, &kv, engine::TensorView::HostF32(logits.data(), {1, vocab}));
    out.push_back(std::move(logits));
  }
  return out;
}

TEST_P(GgufGoldenTest, ConfigFromMetadataEqualsConfigJson) {
  auto file = engine::GgufFile::Open(gguf_);
  ASSERT_TRUE(file.ok()) << file.status();
  auto g = engine::ModelConfigFromGguf(**file);
  ASSERT_TRUE(g.ok()) << g.status();
  auto s =
      engine::ModelConfig::FromDirectory(SharedPath(std::string("models/") + GetParam().model));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(g->architecture, s->architecture);
  EXPECT_EQ(g->vocab_size, s->vocab_size);
  EXPECT_EQ(g->hidden_size, s->hidden_size);
  EXPECT_EQ(g->intermediate_size, s->intermediate_size);
  EXPECT_EQ(g->num_hidden_layers, s->num_hidden_layers);
  EXPECT_EQ(g->num_attention_heads, s->num_attention_heads);
  EXPECT_EQ(g->num_key_value_heads, s->num_key_value_heads);
  EXPECT_EQ(g->head_dim, s->head_dim);
  EXPECT_EQ(g->max_position_embeddings, s->max_position_embeddings);
  EXPECT_FLOAT_EQ(static_cast<float>(g->rms_norm_eps), static_cast<float>(s->rms_norm_eps));
  EXPECT_EQ(g->rope_theta, s->rope_theta);
  EXPECT_EQ(g->tie_word_embeddings, s->tie_word_embeddings);
}

// Same fp32 weights, same kernels: the logits are bit-identical, in both
// load formats (mmap serves the unpermuted tensors from the file's mapping).
TEST_P(GgufGoldenTest, LogitsEqualTheSafetensorsModelBitForBit) {
  const std::string dir = SharedPath(std::string("models/") + GetParam().model);
  auto config = engine::ModelConfig::FromDirectory(dir);
  ASSERT_TRUE(config.ok()) << config.status();
  auto st = engine::WeightStore::Open(dir);
  ASSERT_TRUE(st.ok()) << st.status();
  std::vector<std::vector<int32_t>> prompts;
  for (const Prompt& p : prompts_) prompts.push_back(p.ids);
  const std::vector<std::vector<float>> want = Logits(*config, **st, prompts);
  ASSERT_FALSE(want.empty());
  for (engine::LoadFormat format : {engine::LoadFormat::kCopy, engine::LoadFormat::kMmap}) {
    auto file = engine::GgufFile::Open(gguf_);
    ASSERT_TRUE(file.ok()) << file.status();
    auto gconfig = engine::ModelConfigFromGguf(**file);
    ASSERT_TRUE(gconfig.ok()) << gconfig.status();
    auto store = engine::WeightStore::OpenGguf(*std::move(file), *gconfig, format);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->StorageDType(), kernels::DType::kF32);
    const std::vector<std::vector<float>> got = Logits(*gconfig, **store, prompts);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i], want[i]) << "prompt \"" << prompts_[i].text << "\", load format "
                                 << engine::LoadFormatName(format);
    }
    if (format == engine::LoadFormat::kMmap) {
      EXPECT_GT((*store)->BytesMapped(), 0);
      EXPECT_LT((*store)->BytesMapped(), (*store)->BytesLoaded());  // q/k are reordered copies
    } else {
      EXPECT_EQ((*store)->BytesMapped(), 0);
    }
  }
}

// `--model FILE.gguf`: config, tokenizer and weights from the file; greedy
// ids equal the golden ones (EOS not a stop: the GGUF lists only id 2 as EOS
// where stories260K's generation_config.json also stops on BOS).
TEST_P(GgufGoldenTest, GreedyIdsThroughTheEngineAndTheGgufTokenizer) {
  engine::EngineConfig cfg;
  cfg.model_dir = gguf_;
  cfg.kv_cache_memory_bytes = 64ll << 20;
  auto e = engine::Engine::Create(cfg);
  ASSERT_TRUE(e.ok()) << e.status();
  int index = 0;
  for (const Prompt& p : prompts_) {
    EXPECT_EQ((*e)->tokenizer().Encode(p.text, true), p.ids) << "prompt \"" << p.text << "\"";
    const int max_tokens = static_cast<int>(p.greedy.size());
    engine::Request r = Greedy("g" + std::to_string(index++), p.ids, max_tokens);
    r.sampling.ignore_eos = true;
    Collected got = RunOne(**e, std::move(r));
    ASSERT_TRUE(got.status.ok()) << got.status;
    EXPECT_EQ(got.ids, p.greedy) << "prompt \"" << p.text << "\"";
  }
}

// --tokenizer DIR: the GGUF file's weights with a HF tokenizer directory's
// tokenizer (here stories260K's own, so the golden ids must come out); a
// directory that is not one, or holds no tokenizer, fails naming the flag.
TEST(GgufTokenizerDirTest, AHfTokenizerDirectoryReplacesTheFilesTokenizer) {
  INFERD_REQUIRE_SHARED("golden/stories260K-greedy.json");
  const std::string gguf =
      std::string(INFERD_SOURCE_DIR) + "/tests/golden/model/data/stories260K-f32.gguf";
  engine::EngineConfig cfg;
  cfg.model_dir = gguf;
  cfg.tokenizer_dir = SharedPath("models/stories260K");
  cfg.kv_cache_memory_bytes = 64ll << 20;
  auto e = engine::Engine::Create(cfg);
  ASSERT_TRUE(e.ok()) << e.status();
  std::ifstream in(SharedPath("golden/stories260K-greedy.json"));
  const nlohmann::json golden = nlohmann::json::parse(in);
  int checked = 0;
  for (const auto& p : golden["prompts"]) {
    if (!p.contains("prompt")) continue;
    EXPECT_EQ((*e)->tokenizer().Encode(p["prompt"].get<std::string>(), true),
              p["prompt_ids"].get<std::vector<int32_t>>());
    ++checked;
  }
  EXPECT_GT(checked, 0);

  for (const std::string& dir :
       {SharedPath("models/no-such-dir"), std::string(INFERD_SOURCE_DIR) + "/docs"}) {
    cfg.tokenizer_dir = dir;
    auto bad = engine::Engine::Create(cfg);
    ASSERT_FALSE(bad.ok()) << dir;
    EXPECT_NE(bad.status().message().find("--tokenizer"), std::string::npos) << bad.status();
  }
}

// stories260K converted with --outtype q8_0 (committed, 344 KB): with the
// linear layers served as Q8_0 the file's blocks are used as stored, not
// requantized: with mmap the one matrix loaded alone (o_proj; q/k/v and
// gate/up are fused into copies, F16 down_proj has rows of 172 and stays
// fp32) is a view of the file, all of it — and the model predicts what the
// F32 file's does.
TEST(GgufQ8_0Test, LinearQ8_0TensorsAreServedAsStored) {
  INFERD_REQUIRE_SHARED("golden/stories260K-greedy.json");
  const std::string data = std::string(INFERD_SOURCE_DIR) + "/tests/golden/model/data/";
  auto file = engine::GgufFile::Open(data + "stories260K-q8_0.gguf");
  ASSERT_TRUE(file.ok()) << file.status();
  std::shared_ptr<const engine::GgufFile> q8 = *std::move(file);
  int64_t as_stored = 0;  // o_proj: the one Q8_0 matrix loaded alone, not fused
  for (const engine::GgufTensorInfo& t : q8->contents().tensors) {
    if (t.type == engine::GgmlType::kQ8_0 && t.name.find("attn_output.") != std::string::npos) {
      as_stored += static_cast<int64_t>(t.nbytes);
    }
  }
  ASSERT_GT(as_stored, 0);
  auto config = engine::ModelConfigFromGguf(*q8);
  ASSERT_TRUE(config.ok()) << config.status();
  auto store = engine::WeightStore::OpenGguf(q8, *config, engine::LoadFormat::kMmap);
  ASSERT_TRUE(store.ok()) << store.status();
  auto model = engine::Transformer::Load(*config, **store, kernels::DType::kF32, nullptr,
                                         {.linear = kernels::DType::kQ8_0});
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*store)->BytesMapped(), as_stored);

  const std::vector<std::vector<int32_t>> prompts = Stories260kPromptIds();
  auto f32 = engine::GgufFile::Open(data + "stories260K-f32.gguf");
  ASSERT_TRUE(f32.ok()) << f32.status();
  std::shared_ptr<const engine::GgufFile> f32_file = *std::move(f32);
  auto f32_store = engine::WeightStore::OpenGguf(f32_file, *config);
  ASSERT_TRUE(f32_store.ok()) << f32_store.status();
  const auto want = Logits(*config, **f32_store, prompts);
  const auto got = Logits(*config, **store, prompts, {.linear = kernels::DType::kQ8_0});
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const auto argmax = [](const std::vector<float>& v) {
      return std::max_element(v.begin(), v.end()) - v.begin();
    };
    EXPECT_EQ(argmax(got[i]), argmax(want[i])) << "prompt " << i;
  }
}

// The issue's "Q8_0 GGUF logits equal inferd's own int8 path on the same
// weights": the committed Q8_0 file served as stored (--quantization int8)
// against a safetensors copy of its dequantized values quantized at load by
// inferd. Requantizing a dequantized Q8_0 row gives back its bytes (the
// amax element is d * 127, so d comes back exactly), so every logit must be
// bit-identical.
TEST(GgufQ8_0Test, LogitsEqualTheInt8PathOnTheSameWeights) {
  INFERD_REQUIRE_SHARED("golden/stories260K-greedy.json");
  const std::string src = std::string(INFERD_SOURCE_DIR);
  auto file = engine::GgufFile::Open(src + "/tests/golden/model/data/stories260K-q8_0.gguf");
  ASSERT_TRUE(file.ok()) << file.status();
  std::shared_ptr<const engine::GgufFile> q8 = *std::move(file);
  auto config = engine::ModelConfigFromGguf(*q8);
  ASSERT_TRUE(config.ok()) << config.status();
  auto store = engine::WeightStore::OpenGguf(q8, *config);
  ASSERT_TRUE(store.ok()) << store.status();

  // The dequantized copy, under the HF names of the repository's checkpoint.
  auto names = engine::SafetensorsFile::Open(src + "/models/stories260K/model.safetensors");
  ASSERT_TRUE(names.ok()) << names.status();
  std::vector<RawTensor> tensors;
  for (const auto& [name, info] : (*names)->tensors()) {
    if (!(*store)->Has(name)) continue;  // the tied lm_head
    auto t = (*store)->Load(name, info.shape, kernels::DType::kF32);
    ASSERT_TRUE(t.ok()) << t.status();
    int64_t numel = 1;
    for (int64_t d : info.shape) numel *= d;
    std::vector<float> v(static_cast<const float*>(t->data()),
                         static_cast<const float*>(t->data()) + numel);
    tensors.push_back({name, "F32", info.shape, F32Bytes(v)});
  }
  TempDir dir;
  WriteFile(dir.path() / "model.safetensors", SafetensorsBytes(tensors));
  std::filesystem::copy_file(src + "/models/stories260K/config.json", dir.path() / "config.json");
  auto copy_config = engine::ModelConfig::FromDirectory(dir.path().string());
  ASSERT_TRUE(copy_config.ok()) << copy_config.status();
  auto copy = engine::WeightStore::Open(dir.path().string());
  ASSERT_TRUE(copy.ok()) << copy.status();

  const std::vector<std::vector<int32_t>> prompts = Stories260kPromptIds();
  const auto as_stored = Logits(*config, **store, prompts, {.linear = kernels::DType::kQ8_0});
  const auto requantized = Logits(*copy_config, **copy, prompts, {.linear = kernels::DType::kQ8_0});
  ASSERT_EQ(as_stored.size(), requantized.size());
  ASSERT_FALSE(as_stored.empty());
  for (size_t i = 0; i < as_stored.size(); ++i) {
    ASSERT_EQ(as_stored[i].size(), requantized[i].size());
    EXPECT_EQ(0, std::memcmp(as_stored[i].data(), requantized[i].data(),
                             as_stored[i].size() * sizeof(float)))
        << "prompt " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, GgufGoldenTest,
                         ::testing::Values(Case{"stories260K", "stories260K-greedy.json"},
                                           Case{"tiny-llama", "tiny-llama.json"},
                                           Case{"tiny-mixtral", "tiny-mixtral.json"}),
                         [](const auto& info) {
                           std::string n = info.param.model;
                           for (char& c : n) c = (c == '-') ? '_' : c;
                           return n;
                         });

}  // namespace
}  // namespace inferd::testing
