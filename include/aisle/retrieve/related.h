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
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/models/blade.h"

namespace aisle::retrieve {

std::filesystem::path related_path(const std::filesystem::path& data_dir);

struct RelatedHit {
  std::string external_id;
  float score = 0;
};

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
