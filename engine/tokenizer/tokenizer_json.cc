// engine/tokenizer/tokenizer_json.cc — see tokenizer_json.h.
#include "engine/tokenizer/tokenizer_json.h"

#include "absl/strings/str_cat.h"

namespace inferd::engine {

namespace {

std::string VocabError(const std::string& piece) {
  return absl::StrCat("model.vocab[\"", piece, "\"] is not a token id (an integer)");
}

std::string MergeShapeError(size_t index) {
  return absl::StrCat("model.merges[", index, "] is neither \"a b\" nor a pair of strings");
}

// Builds a DOM of everything but model.vocab / model.merges, which go to
// BpeTables. Returning false from a handler stops the parse (error_ set).
class Handler final : public nlohmann::json_sax<Json> {
 public:
  explicit Handler(TokenizerJson* doc) : doc_(doc) {}
  const std::string& error() const { return error_; }

  bool null() override { return Value(Json(nullptr)); }
  bool boolean(bool v) override { return Value(Json(v)); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::kVocab) {
      doc_->tables.vocab.emplace_back(std::move(vocab_key_), v);
      return true;
    }
    return Value(Json(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::kVocab) {
      if (v > static_cast<number_unsigned_t>(INT64_MAX)) return Fail(VocabError(vocab_key_));
      return number_integer(static_cast<number_integer_t>(v));
    }
    return Value(Json(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return Value(Json(v)); }
  bool binary(binary_t& v) override { return Value(Json::binary(std::move(v))); }

  bool string(string_t& v) override {
    if (mode_ == Mode::kMerges) {
      std::pair<std::string, std::string> merge;
      absl::Status s = SplitMerge(v, doc_->tables.merges.size(), &merge);
      if (!s.ok()) return Fail(std::string(s.message()));
      doc_->tables.merges.push_back(std::move(merge));
      return true;
    }
    if (mode_ == Mode::kMergePair) {
      if (pair_size_ >= 2) return Fail(MergeShapeError(doc_->tables.merges.size()));
      (pair_size_++ == 0 ? pair_.first : pair_.second) = std::move(v);
      return true;
    }
    return Value(Json(std::move(v)));
  }

  bool key(string_t& k) override {
    if (mode_ == Mode::kVocab) {
      vocab_key_ = std::move(k);
    } else {
      key_ = std::move(k);
    }
    return true;
  }

  bool start_object(std::size_t) override {
    if (mode_ != Mode::kDom) return Fail(StreamedShapeError());
    if (InModel() && key_ == "vocab") {
      mode_ = Mode::kVocab;
      doc_->vocab_streamed = true;
      return true;
    }
    const bool is_model = stack_.size() == 1 && stack_[0]->is_object() && key_ == "model";
    if (!Value(Json::object())) return false;
    stack_.push_back(last_);
    if (is_model) model_ = last_;
    return true;
  }
  bool end_object() override {
    if (mode_ == Mode::kVocab) {
      mode_ = Mode::kDom;
      return true;
    }
    stack_.pop_back();
    return true;
  }

  bool start_array(std::size_t) override {
    if (mode_ == Mode::kMerges) {
      mode_ = Mode::kMergePair;
      pair_size_ = 0;
      return true;
    }
    if (mode_ != Mode::kDom) return Fail(StreamedShapeError());
    if (InModel() && key_ == "merges") {
      mode_ = Mode::kMerges;
      doc_->merges_streamed = true;
      return true;
    }
    if (!Value(Json::array())) return false;
    stack_.push_back(last_);
    return true;
  }
  bool end_array() override {
    if (mode_ == Mode::kMergePair) {
      if (pair_size_ != 2) return Fail(MergeShapeError(doc_->tables.merges.size()));
      doc_->tables.merges.push_back(std::move(pair_));
      mode_ = Mode::kMerges;
      return true;
    }
    if (mode_ == Mode::kMerges) {
      mode_ = Mode::kDom;
      return true;
    }
    stack_.pop_back();
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    return Fail(absl::StrCat("invalid JSON: ", e.what()));
  }

 private:
  enum class Mode { kDom, kVocab, kMerges, kMergePair };

  bool InModel() const { return model_ != nullptr && !stack_.empty() && stack_.back() == model_; }

  std::string StreamedShapeError() const {
    return mode_ == Mode::kVocab ? VocabError(vocab_key_)
                                 : MergeShapeError(doc_->tables.merges.size());
  }

  bool Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  // Stores a DOM value at the current place; last_ points at it.
  bool Value(Json v) {
    if (mode_ != Mode::kDom) return Fail(StreamedShapeError());
    if (stack_.empty()) {
      doc_->rest = std::move(v);
      last_ = &doc_->rest;
    } else if (stack_.back()->is_object()) {
      Json& slot = (*stack_.back())[key_];
      slot = std::move(v);
      last_ = &slot;
    } else {
      stack_.back()->push_back(std::move(v));
      last_ = &stack_.back()->back();
    }
    return true;
  }

  TokenizerJson* doc_;
  std::vector<Json*> stack_;  // open containers; parents stay put while a child is built
  Json* last_ = nullptr;
  Json* model_ = nullptr;  // the top-level "model" object
  std::string key_;
  std::string vocab_key_;
  std::pair<std::string, std::string> pair_;
  int pair_size_ = 0;
  Mode mode_ = Mode::kDom;
  std::string error_;
};

}  // namespace

absl::Status SplitMerge(const std::string& merge, size_t index,
                        std::pair<std::string, std::string>* out) {
  const size_t space = merge.find(' ');
  if (space == std::string::npos || merge.find(' ', space + 1) != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("model.merges[", index, "] = \"", merge,
                                                   "\" is not two tokens separated by one space"));
  }
  out->first = merge.substr(0, space);
  out->second = merge.substr(space + 1);
  return absl::OkStatus();
}

absl::StatusOr<TokenizerJson> ParseTokenizerJson(const std::string& text, const std::string& path) {
  TokenizerJson doc;
  Handler handler(&doc);
  bool ok = false;
  try {
    ok = Json::sax_parse(text, &handler);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": invalid JSON: ", e.what()));
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", handler.error().empty() ? "invalid JSON" : handler.error()));
  }
  return doc;
}

absl::Status ExtractBpeTables(const Json& model, bool vocab, bool merges, BpeTables* out) {
  if (vocab) {
    const Json* v = FindField(model, "vocab");
    if (v == nullptr) return absl::InvalidArgumentError("model has no \"vocab\"");
    if (!v->is_object()) return absl::InvalidArgumentError("model.vocab is not an object");
    out->vocab.reserve(v->size());
    for (const auto& [piece, id] : v->items()) {
      if (!id.is_number_integer()) return absl::InvalidArgumentError(VocabError(piece));
      out->vocab.emplace_back(piece, id.get<int64_t>());
    }
  }
  if (merges) {
    const Json* m = FindField(model, "merges");
    if (m == nullptr) return absl::OkStatus();  // a BPE model without merges
    if (!m->is_array()) return absl::InvalidArgumentError("model.merges is not a list");
    out->merges.reserve(m->size());
    for (size_t i = 0; i < m->size(); ++i) {
      const Json& e = (*m)[i];
      std::pair<std::string, std::string> merge;
      if (e.is_string()) {
        if (absl::Status s = SplitMerge(e.get<std::string>(), i, &merge); !s.ok()) return s;
      } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
        merge = {e[0].get<std::string>(), e[1].get<std::string>()};
      } else {
        return absl::InvalidArgumentError(MergeShapeError(i));
      }
      out->merges.push_back(std::move(merge));
    }
  }
  return absl::OkStatus();
}

}  // namespace inferd::engine
