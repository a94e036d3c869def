// Hashed text features for the learned encoders: no vocabulary file, no tokenizer model, any
// language the analyzers know.
//
// A text becomes a sequence of tokens; each token is a small weighted bag of hashed feature ids:
//  - the analyzed term (text::Analyzer: NFKC case fold, ICU or MeCab segmentation, stemming,
//    product tokens such as "3/4in"),
//  - its letter trigrams over code points with boundary marks ("#dri", "dri", "ril", "ill",
//    "ll#"; DSSM's word hashing, fastText's subwords), which carry typos and unseen words,
//  - optionally a bigram pseudo-token per pair of adjacent terms (for pooled encoders; a
//    transformer sees order itself).
// Product fields are tokens too, with field weights (title and brand count more than the
// description) and field-tagged ids for brand and color, so "brand:behr" differs from "behr" in
// a title.
//
// Ids are FNV-1a hashes taken modulo `buckets`; collisions are the price of no vocabulary.
// A Featurizer is not thread-safe (it caches one analyzer per locale).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/status.h"
#include "aisle/text/analyzer.h"
#include "aisle/text/document.h"

namespace aisle::models {

struct FeatureOptions {
  std::int64_t buckets = 1 << 17;
  bool word_bigrams = true;
  int max_query_tokens = 16;
  int max_product_tokens = 64;
  bool use_description = true;
  // Field weights: how much one token of the field counts in a pooled bag.
  float title_weight = 1.0f;
  float brand_weight = 1.0f;
  float color_weight = 0.7f;
  float category_weight = 0.5f;
  float description_weight = 0.25f;
};

// Tokens of one text, flattened: token t owns ids[token_offsets[t] .. token_offsets[t+1]).
// Within a token the weights sum to the token's field weight.
nlohmann::json feature_options_to_json(const FeatureOptions& options);
// kBadInput naming the missing or mistyped field.
Result<FeatureOptions> feature_options_from_json(const nlohmann::json& json);

struct Features {
  std::vector<std::int64_t> ids;
  std::vector<float> weights;
  std::vector<std::int64_t> token_offsets = {0};
  int tokens() const { return static_cast<int>(token_offsets.size()) - 1; }
  void clear() {
    ids.clear();
    weights.clear();
    token_offsets.assign(1, 0);
  }
};

class Featurizer {
 public:
  explicit Featurizer(FeatureOptions options) : options_(options) {}

  // kBadInput for a locale no analyzer knows (the caller decides whether to fall back).
  Status query(std::string_view text, std::string_view locale, Features* out);
  Status product(const text::Document& document, Features* out);

  const FeatureOptions& options() const { return options_; }

 private:
  Result<text::Analyzer*> analyzer(std::string_view locale);
  // Appends the tokens of `text` with field `weight`; `tag` (0 for none) makes field-tagged ids.
  void add_text(text::Analyzer& analyzer, std::string_view text, float weight, char tag, int max_tokens,
                Features* out);

  FeatureOptions options_;
  std::map<std::string, std::unique_ptr<text::Analyzer>, std::less<>> analyzers_;
};

// The hashed id of `text` in namespace `kind`, in [0, buckets).
std::int64_t feature_id(char kind, std::string_view text, std::int64_t buckets);

// Appends the ids of one already-normalized word: the word ('w') and its code-point trigrams
// with boundary marks ('t': "#ab", "abc", "bc#"). Used by the entity aligner's name encoder and
// the record matcher's tokens.
void append_word_ids(std::string_view word, std::int64_t buckets, std::vector<std::int64_t>* ids);

}  // namespace aisle::models
