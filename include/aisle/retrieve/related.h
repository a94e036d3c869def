// Related products: the trained BLADE model (models/blade.h) of a data directory, served.
//
// `aisle train related` trains it on a product-graph edge file and writes
// <data_dir>/models/related.bin; `aisle related ID` and the graph strategy read it.
// top_k ranks every other node v by score(u -> v) = s_u . t_v (exact, a scan of all nodes);
// expand() is the graph retrieval strategy: the related products of strong candidates, each
// scored by the best score(seed -> v) over the seeds, seeds and duplicates left out.
// Read-only after load: safe from several threads.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/models/blade.h"
#include "aisle/store/store.h"

namespace aisle::retrieve {

std::filesystem::path related_path(const std::filesystem::path& data_dir);

struct RelatedHit {
  std::string external_id;
  float score = 0;
};

// A related product with its listing in the locale asked for (none when it has no listing
// there and all locales were asked for).
struct RelatedListing {
  RelatedHit hit;
  std::optional<store::Product> listing;
};

class RelatedProducts;

// The k products related to `product` that have a listing in `locale`, best first (more are
// ranked than shown, so those without one make room); with all_locales, the first k whatever
// their locale. kNotFound when the product is not in the graph; store errors as they come.
// One point lookup per ranked product. `aisle related` and /related both use it.
Result<std::vector<RelatedListing>> related_listings(const RelatedProducts& related, store::Store& store,
                                                     const std::string& product, const std::string& locale, int k,
                                                     bool all_locales);

class RelatedProducts {
 public:
  // kNotFound (saying to run `aisle train related`) when the data directory has no model.
  static Result<std::unique_ptr<RelatedProducts>> open(const std::filesystem::path& data_dir, const Context& context);
  explicit RelatedProducts(std::unique_ptr<models::Blade> model);

  std::size_t nodes() const { return model_->num_nodes(); }
  bool contains(const std::string& external_id) const { return ids_.count(external_id) > 0; }
  // kNotFound when the product is not in the graph.
  Result<std::vector<RelatedHit>> top_k(const std::string& external_id, int k) const;
  // Seeds not in the graph are skipped.
  std::vector<RelatedHit> expand(std::span<const std::string> seeds, int k) const;

 private:
  std::vector<RelatedHit> rank(std::span<const graph::NodeId> seeds, int k) const;

  std::unique_ptr<models::Blade> model_;
  std::unordered_map<std::string, graph::NodeId> ids_;
};

}  // namespace aisle::retrieve
