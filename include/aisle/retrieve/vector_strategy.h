// The vector strategy: a learned two-tower encoder (models::TextEncoder) embeds queries and
// products; k-NN over the product vectors (vector::VectorIndex, HNSW) finds candidates.
//
// A data directory holds the encoder at <data_dir>/models/encoder.bin (written by
// `aisle train encoder`) and the product vectors at <data_dir>/index/vectors/ (written by
// `aisle index` whenever an encoder exists).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/models/text_encoder.h"
#include "aisle/store/store.h"
#include "aisle/vector/vector_index.h"

namespace aisle::retrieve {

std::filesystem::path encoder_path(const std::filesystem::path& data_dir);
std::filesystem::path vector_index_path(const std::filesystem::path& data_dir);
// The content version (text::Document::version) each product's vector was embedded from,
// written with the vectors: what VectorStrategy::catch_up() compares with the store.
std::filesystem::path vector_versions_path(const std::filesystem::path& data_dir);

struct TrainingSetReport {
  std::int64_t judgments = 0;        // judgments used (those of split "test" are never used)
  std::int64_t held_out = 0;         // judgments of split "test", left out
  std::int64_t engagement_pairs = 0;  // (query, product) pairs with clicks, carts or purchases
  std::int64_t queries = 0;
  std::int64_t products = 0;
};

// A (query, product) pair with its grade in 0..1.
struct GradedPair {
  std::string query;
  std::string locale;
  ProductId product;
  float grade = 0;
};

// The graded pairs of the store without loading the catalog (the grades of
// training_set_from_store below), one per (locale, query, product): queries in order of first
// appearance (judgments, then engagement), then by product id.
Result<std::vector<GradedPair>> graded_pairs_from_store(store::Store& store, TrainingSetReport* report);

// Training pairs from the store, grades mapped to 0..1:
//  - ESCI labels: E 1.0, S 0.6, C 0.2, I 0.0 (C and I are hard negatives);
//  - numeric grades: scaled by the smallest and largest grade stored (Home Depot 1..3 -> 0..1);
//  - engagement: purchase 1.0, add to cart 0.85, click 0.6 (the strongest event counts);
//    a pair both judged and engaged keeps the larger grade.
// Every catalog product is in the set (products without pairs still take part as negatives).
Result<models::TrainingSet> training_set_from_store(store::Store& store, TrainingSetReport* report);

struct VectorIndexReport {
  std::int64_t products = 0;
  double encode_seconds = 0;
  double build_seconds = 0;
};

// Embeds every catalog product with `encoder` and replaces <data_dir>/index/vectors/ (an HNSW
// index, cosine) and the versions file crash-safely.
Status build_vector_index(store::Store& store, const models::TextEncoder& encoder, const Context& context,
                          const std::filesystem::path& data_dir, VectorIndexReport* report);

// The encoder and the product vectors of a data directory, ready to answer queries.
class VectorStrategy {
 public:
  // kNotFound (saying which command writes it) when the encoder or the vectors are missing.
  static Result<std::unique_ptr<VectorStrategy>> open(const std::filesystem::path& data_dir, const Context& context);
  VectorStrategy(std::unique_ptr<models::TextEncoder> encoder, std::unique_ptr<vector::VectorIndex> index)
      : encoder_(std::move(encoder)), index_(std::move(index)) {}

  // The k products nearest to the query's vector, nearest first. The locale picks the query
  // analyzer; filter.locale (when set) limits results to one locale.
  Result<std::vector<vector::Neighbor>> search(std::string_view query, std::string_view locale,
                                               const vector::VectorSearchOptions& options) const;

  // Embeds `documents` (with their product ids) and inserts or replaces their vectors; the
  // next search sees them. Thread-safe with searches: the index takes its writer lock per
  // chunk of 256, so searches run between chunks. A failure leaves earlier chunks applied.
  Status upsert(std::span<const text::Document> documents, const Context& context);
  // Deletes the vectors of `products` (deleted listings); the next search no longer finds them.
  void remove(std::span<const ProductId> products);
  // Writes the vectors, with those upserted, to <data_dir>/index/vectors/ and their versions
  // (crash-safe; the versions last, so a crash between the two only re-embeds more).
  Status save(const std::filesystem::path& data_dir) const;
  // Embeds every stored listing whose vector is missing or was embedded from other content
  // (by version; without a versions file, from data directories older than it, only missing
  // ones): the vectors upserted by a process killed before it saved them. Returns how many.
  // Vectors of listings the store no longer has (deleted by a process killed before it saved)
  // are removed. Reads every listing once (no embedding when nothing changed).
  Result<std::size_t> catch_up(store::Store& store, const Context& context);

  const models::TextEncoder& encoder() const { return *encoder_; }
  const vector::VectorIndex& index() const { return *index_; }

 private:
  std::unique_ptr<models::TextEncoder> encoder_;
  std::unique_ptr<vector::VectorIndex> index_;
  mutable std::mutex versions_mutex_;
  std::unordered_map<std::uint32_t, std::uint64_t> versions_;  // product -> content version; guarded
  bool versions_known_ = false;  // a versions file was read (or every vector was built here)
};

// Strategies that found a candidate, as bits: bit (1 << s) for retrieve::StrategyIndex s.
enum StrategyBit : std::uint32_t {
  kFoundLexical = 1,
  kFoundStructured = 2,
  kFoundVector = 4,
  kFoundMemory = 8,
  kFoundGraph = 16,
  kFoundPopularity = 32,
};
inline constexpr int kStrategyBits = 6;
std::string strategy_names(std::uint32_t found_by);  // "lexical+vector"

// One ranked list of a strategy, best first.
struct RankedList {
  std::uint32_t strategy = 0;  // one StrategyBit
  std::vector<ProductId> products;
  std::vector<float> scores;  // parallel to products
};

struct FusedHit {
  ProductId product;
  double score = 0;           // the fused score
  std::uint32_t found_by = 0;  // StrategyBits
  // Rank (1-based, 0 = not found) and score in each strategy's list, by bit index.
  int ranks[kStrategyBits] = {};
  float scores[kStrategyBits] = {};
};

// Reciprocal rank fusion (Cormack et al. 2009): score = sum over lists of 1 / (rrf_k + rank).
// The union of the lists, best first (ties by product id), at most k.
std::vector<FusedHit> fuse(std::span<const RankedList> lists, std::size_t k, double rrf_k = 60);

}  // namespace aisle::retrieve
