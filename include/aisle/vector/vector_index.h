// Vector indexes: k nearest neighbours of a query vector among product vectors.
//
// Two implementations behind one interface:
//  - kHnsw: an HNSW graph (hnswlib builds and stores it; Aisle walks it for search, so `ef` is
//    per query and filters are applied inside the walk);
//  - kExact: a plain scan of every vector, the reference the approximate index is tested
//    against, and the right choice for small catalogs.
//
// Every item carries a product id, a locale and a category path, so a search can be limited to
// one locale and/or a category subtree. A filter that leaves few items is answered by an exact
// scan of those items (so restrictive filters lose no recall); a broad one walks the graph
// with the filter applied to results and `ef` widened by the inverse of its selectivity.
//
// Metrics: kCosine (vectors are L2-normalized on add and at query time; the score is the cosine)
// and kInnerProduct (the raw dot product). Higher scores are nearer.
//
// add() is an upsert by product id; remove() deletes. Both are visible to the next search.
// save() writes a directory: data files named by generation, then MANIFEST.json last (the
// commit point), each file written to a temporary name, fsynced and renamed; open() verifies
// the format version and every file's checksum, so a crash or a damaged file never loads.
//
// Thread safety: searches may run concurrently with each other; add/remove/save take a writer
// lock, so they may be called from any thread but wait for running searches.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aisle/core/context.h"
#include "aisle/core/ids.h"
#include "aisle/core/status.h"

namespace aisle::vector {

enum class Metric { kCosine, kInnerProduct };
enum class IndexKind { kHnsw, kExact };

const char* metric_name(Metric metric);
const char* index_kind_name(IndexKind kind);

struct VectorIndexOptions {
  IndexKind kind = IndexKind::kHnsw;
  Metric metric = Metric::kCosine;
  int dim = 0;  // required, > 0
  // HNSW graph: links per node (M; 2M on the base layer) and the beam width while building.
  int hnsw_m = 16;
  int hnsw_ef_construction = 200;
  std::uint64_t seed = 42;  // level draws of the graph
};

// One vector to index; `vector` has exactly dim() floats.
struct VectorItem {
  ProductId product;
  std::string locale;
  std::string category;  // path "A > B > C"; empty when unknown
  std::span<const float> vector;
};

struct VectorFilter {
  std::string locale;           // empty: any
  std::string category_prefix;  // matches this path and every path below it; empty: any
  bool empty() const { return locale.empty() && category_prefix.empty(); }
};

struct VectorSearchOptions {
  int k = 10;
  // Beam width of the graph walk (HNSW only); raised to k when smaller.
  int ef = 64;
  VectorFilter filter;
  // A filter that leaves at most this many items, or at most `exact_fraction` of the index,
  // is answered by an exact scan of the items it leaves.
  int exact_below = 20000;
  double exact_fraction = 0.05;
};

struct Neighbor {
  ProductId product;
  float score = 0;  // cosine or dot product; higher is nearer
};

struct VectorIndexStats {
  std::uint64_t items = 0;    // live items
  std::uint64_t deleted = 0;  // removed items whose slots are not reclaimed yet (HNSW)
  std::uint64_t memory_bytes = 0;
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  // An empty index. kBadInput when dim <= 0 or a graph parameter is out of range.
  static Result<std::unique_ptr<VectorIndex>> create(const VectorIndexOptions& options);
  // Loads what save() wrote. kNotFound when `directory` has no MANIFEST.json; kCorrupt naming the
  // file on a version or checksum mismatch.
  static Result<std::unique_ptr<VectorIndex>> open(const std::filesystem::path& directory);

  // Inserts or replaces items (by product id). kBadInput naming the item on a wrong dimension,
  // a non-finite value or a zero vector under kCosine; nothing of the batch is applied then.
  // Builds with context.num_threads() threads (HNSW; the graph then depends on thread timing).
  virtual Status add(std::span<const VectorItem> items, const Context& context) = 0;
  // Deletes items; ids that are not indexed are ignored. Returns how many were removed.
  virtual std::size_t remove(std::span<const ProductId> products) = 0;

  // The k nearest live items that pass the filter, nearest first, ties by product id.
  // kBadInput on a wrong query dimension or k <= 0.
  virtual Result<std::vector<Neighbor>> search(std::span<const float> query,
                                               const VectorSearchOptions& options) const = 0;

  virtual Status save(const std::filesystem::path& directory) const = 0;

  virtual bool contains(ProductId product) const = 0;
  // Copies the stored vector of `product` (normalized for kCosine) into `out`; false when the
  // product is not indexed or out.size() != dim().
  virtual bool vector(ProductId product, std::span<float> out) const = 0;
  virtual VectorIndexStats stats() const = 0;
  virtual const VectorIndexOptions& options() const = 0;
  int dim() const { return options().dim; }
};

// Scales `vector` to unit L2 norm in place; false (and unchanged) when its norm is 0.
bool normalize(std::span<float> vector);

}  // namespace aisle::vector
