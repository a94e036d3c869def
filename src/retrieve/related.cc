#include "aisle/retrieve/related.h"

#include <algorithm>
#include <limits>

namespace aisle::retrieve {

std::filesystem::path related_path(const std::filesystem::path& data_dir) { return data_dir / "models" / "related.bin"; }

Result<std::unique_ptr<RelatedProducts>> RelatedProducts::open(const std::filesystem::path& data_dir, const Context& context) {
  const std::filesystem::path path = related_path(data_dir);
  if (!std::filesystem::exists(path)) {
    return Status::not_found("no related-products model at " + path.string() +
                             " (run aisle train related --data-dir " + data_dir.string() + " --edges EDGES.csv)");
  }
  AISLE_ASSIGN_OR_RETURN(auto model, models::Blade::load(path, context));
  if (model->names().size() != model->num_nodes()) {
    return Status::corruption(path.string() + ": the model has no product id per node");
  }
  return std::make_unique<RelatedProducts>(std::move(model));
}

RelatedProducts::RelatedProducts(std::unique_ptr<models::Blade> model) : model_(std::move(model)) {
  for (std::size_t i = 0; i < model_->names().size(); ++i) ids_.emplace(model_->names()[i], static_cast<graph::NodeId>(i));
}

Result<std::vector<RelatedHit>> RelatedProducts::top_k(const std::string& external_id, int k) const {
  auto it = ids_.find(external_id);
  if (it == ids_.end()) return Status::not_found("product " + external_id + " is not in the related-products graph");
  const graph::NodeId seed = it->second;
  return rank(std::span<const graph::NodeId>(&seed, 1), k);
}

std::vector<RelatedHit> RelatedProducts::expand(std::span<const std::string> seeds, int k) const {
  std::vector<graph::NodeId> nodes;
  for (const std::string& seed : seeds) {
    auto it = ids_.find(seed);
    if (it != ids_.end()) nodes.push_back(it->second);
  }
  return rank(nodes, k);
}

std::vector<RelatedHit> RelatedProducts::rank(std::span<const graph::NodeId> seeds, int k) const {
  const std::size_t n = model_->num_nodes();
  if (seeds.empty() || k <= 0) return {};
  std::vector<float> best(n, -std::numeric_limits<float>::infinity());
  std::vector<char> is_seed(n, 0);
  for (graph::NodeId s : seeds) is_seed[s] = 1;
  for (graph::NodeId s : seeds) {
    for (graph::NodeId v = 0; v < n; ++v) best[v] = std::max(best[v], model_->score(s, v));
  }
  std::vector<graph::NodeId> order;
  for (graph::NodeId v = 0; v < n; ++v) {
    if (!is_seed[v]) order.push_back(v);
  }
  const std::size_t keep = std::min<std::size_t>(order.size(), static_cast<std::size_t>(k));
  std::partial_sort(order.begin(), order.begin() + static_cast<long>(keep), order.end(), [&](graph::NodeId a, graph::NodeId b) {
    return best[a] != best[b] ? best[a] > best[b] : model_->names()[a] < model_->names()[b];
  });
  std::vector<RelatedHit> hits;
  for (std::size_t i = 0; i < keep; ++i) hits.push_back(RelatedHit{model_->names()[order[i]], best[order[i]]});
  return hits;
}

Result<std::vector<RelatedListing>> related_listings(const RelatedProducts& related, store::Store& store,
                                                     const std::string& product, const std::string& locale, int k,
                                                     bool all_locales) {
  AISLE_ASSIGN_OR_RETURN(const std::vector<RelatedHit> ranked, related.top_k(product, all_locales ? k : 4 * k));
  std::vector<RelatedListing> out;
  for (const RelatedHit& hit : ranked) {
    if (static_cast<int>(out.size()) >= k) break;
    AISLE_ASSIGN_OR_RETURN(auto listing, store.find_product(locale, hit.external_id));
    if (!listing && !all_locales) continue;
    out.push_back(RelatedListing{hit, std::move(listing)});
  }
  return out;
}

}  // namespace aisle::retrieve
