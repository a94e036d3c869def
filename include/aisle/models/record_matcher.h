// RecordMatcher: are two product records (from two catalogs) the same product? A match
// probability per pair, after DeepMatcher's attribute-wise compare-and-aggregate, with the
// aligner's two attentions over the tokens of each attribute field.
//
// A record is a list of (attribute, value) fields; fields are matched by attribute name (the
// attributes seen in training, in first-seen order, at most max_fields). A field's value becomes
// tokens (ASCII-lowercased words split at non-alphanumerics; other scripts kept whole), each a
// bag of hashed ids: the word and its code-point trigrams with boundary marks (no vocabulary, any
// script, typos and model numbers share trigrams). Per field, with A and B the two sides' token
// vectors:
//  - cross attention: every token of A attends over B's tokens (softmax of cosines / 0.1): its
//    aligned vector b~ and its best cosine; the comparison c = MLP([a * b~ ; |a - b~|]);
//  - self-attention: a learned importance softmax over A's tokens weighs the comparisons and the
//    best cosines (a model number counts more than "with");
//  - the same from B to A; the field's vector is [vA + vB ; |vA - vB| ; sA ; sB] plus exact
//    features: word Jaccard, equality, both empty, one empty, the share of A's and B's tokens
//    holding a digit that appear on the other side, and for numeric values |a - b| / max(a, b).
// A feed-forward layer over the fields' vectors gives the logit.
//
// Training: binary cross-entropy (positives weighted by negatives / positives), Adam; after each
// epoch the validation pairs are scored; the epoch with the best validation average precision is
// kept, and the threshold is the one with the best validation F1. Deterministic for a seed and a
// thread count. Not thread-safe while training; predict is const.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"

namespace aisle::models {

using FieldRecord = std::vector<std::pair<std::string, std::string>>;

struct MatchExample {
  FieldRecord left, right;
  int label = 0;  // 1: the same product
};

struct MatcherConfig {
  int embedding_dim = 64;
  int hidden = 64;
  std::int64_t buckets = 1 << 16;
  int max_tokens = 48;  // per field
  int max_fields = 8;
};

nlohmann::json matcher_config_to_json(const MatcherConfig& config);

struct MatcherTrainOptions {
  int epochs = 20;
  int batch_size = 32;
  double learning_rate = 1e-3;
  std::function<void(int epoch, double loss, double validation_ap, double seconds)> on_epoch;
};

struct MatcherTrainReport {
  int epochs = 0;
  int best_epoch = 0;
  double validation_ap = 0;
  double validation_f1 = 0;
  double threshold = 0.5;
  double seconds = 0;
  std::vector<std::string> attributes;
};

class RecordMatcher {
 public:
  static Result<std::unique_ptr<RecordMatcher>> create(const MatcherConfig& config, const Context& context);
  ~RecordMatcher();

  // kBadInput when `train` has no positive or no negative pair, or `validation` is empty.
  Result<MatcherTrainReport> train(std::span<const MatchExample> train, std::span<const MatchExample> validation,
                                   const MatcherTrainOptions& options, const Context& context);
  // Match probabilities, one per pair. Requires train().
  Result<std::vector<float>> predict(std::span<const MatchExample> pairs) const;
  // The decision threshold chosen on validation.
  double threshold() const;

 private:
  struct Impl;
  explicit RecordMatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The best F1 over thresholds of `scores` against `labels`, and the threshold that gives it
// (predict positive when score >= threshold). Exposed for tests and the evaluation.
std::pair<double, double> best_f1_threshold(std::span<const float> scores, std::span<const int> labels);
// F1 of the decisions score >= threshold.
double f1_at(std::span<const float> scores, std::span<const int> labels, double threshold);

}  // namespace aisle::models
