#include "aisle/rank/relational.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "aisle/text/analyzer.h"

namespace aisle::rank {

namespace {

using Sparse = std::vector<std::pair<std::uint32_t, float>>;  // (term id, weight), by term id

double dot(const Sparse& a, const Sparse& b) {
  double sum = 0;
  auto i = a.begin(), j = b.begin();
  while (i != a.end() && j != b.end()) {
    if (i->first < j->first) ++i;
    else if (j->first < i->first) ++j;
    else sum += static_cast<double>(i->second) * j->second, ++i, ++j;
  }
  return sum;
}

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

}  // namespace

struct RelationalIndex::Impl {
  std::span<const text::Document> products;
  int classes = 0;
  // Per product, unit length (empty: no terms): the title view (title, brand, colour) and the
  // full view (with the description and bullets).
  std::vector<Sparse> vectors, full_vectors;
  struct Neighbour {
    std::uint32_t product;
    int label;
    double value;
    int fold;
  };
  std::unordered_map<std::string, std::vector<Neighbour>> by_query;
  // Per product: its judgments.
  struct Judgment {
    std::string query_key;
    double value;
    int fold;
  };
  std::vector<std::vector<Judgment>> by_product;
};

RelationalIndex::RelationalIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RelationalIndex::~RelationalIndex() = default;

Result<std::unique_ptr<RelationalIndex>> RelationalIndex::create(std::span<const text::Document> products, int classes) {
  if (classes < 0) return Status::bad_input("relational index: classes must be >= 0");
  auto impl = std::make_unique<Impl>();
  impl->products = products;
  impl->classes = classes;
  impl->by_product.resize(products.size());
  std::map<std::string, std::unique_ptr<text::Analyzer>> analyzers;
  for (const text::Document& product : products) {
    auto& analyzer = analyzers[product.locale];
    if (!analyzer) {
      AISLE_ASSIGN_OR_RETURN(analyzer, text::Analyzer::create(product.locale));
    }
  }
  // tf-idf vectors of one view of every product; idf over the products.
  auto view = [&](bool full) {
    std::unordered_map<std::string, std::uint32_t> term_ids;
    std::vector<std::uint32_t> df;
    std::vector<std::vector<std::pair<std::uint32_t, float>>> counts(products.size());
    for (std::size_t i = 0; i < products.size(); ++i) {
      const text::Document& product = products[i];
      text::Analyzer& analyzer = *analyzers[product.locale];
      std::vector<std::string_view> texts = {product.title, product.brand, product.color};
      if (full) {
        texts.push_back(product.description);
        for (const std::string& bullet : product.bullets) texts.push_back(bullet);
      }
      std::map<std::uint32_t, float> tf;
      for (std::string_view text : texts) {
        for (const std::string& term : analyzer.terms(text)) {
          auto [it, inserted] = term_ids.try_emplace(term, static_cast<std::uint32_t>(df.size()));
          if (inserted) df.push_back(0);
          tf[it->second] += 1;
        }
      }
      for (const auto& [term, count] : tf) {
        ++df[term];
        counts[i].emplace_back(term, count);
      }
    }
    const double n = static_cast<double>(products.size());
    std::vector<Sparse> vectors(products.size());
    for (std::size_t i = 0; i < products.size(); ++i) {
      Sparse& v = vectors[i];
      double norm = 0;
      for (const auto& [term, count] : counts[i]) {
        const double w = (1.0 + std::log(count)) * std::log(1.0 + n / df[term]);
        v.emplace_back(term, static_cast<float>(w));
        norm += w * w;
      }
      if (norm > 0) {
        const double scale = 1.0 / std::sqrt(norm);
        for (auto& entry : v) entry.second = static_cast<float>(entry.second * scale);
      }
    }
    return vectors;
  };
  impl->vectors = view(false);
  impl->full_vectors = view(true);
  return std::unique_ptr<RelationalIndex>(new RelationalIndex(std::move(impl)));
}

Status RelationalIndex::add(std::span<const JudgedPair> pairs) {
  for (const JudgedPair& pair : pairs) {
    if (pair.product >= impl_->products.size()) return Status::bad_input("relational index: product out of range");
    if (pair.label >= impl_->classes || (impl_->classes > 0 && pair.label < 0)) {
      return Status::bad_input("relational index: label out of range");
    }
    if (!std::isfinite(pair.value)) return Status::bad_input("relational index: value is not finite");
    impl_->by_query[pair.query_key].push_back(Impl::Neighbour{pair.product, pair.label, pair.value, pair.fold});
    impl_->by_product[pair.product].push_back(Impl::Judgment{pair.query_key, pair.value, pair.fold});
  }
  return Status::ok();
}

std::vector<std::string> RelationalIndex::names() const {
  std::vector<std::string> names = {"rel_query_judged", "rel_query_mean", "rel_query_knn", "rel_query_top_similarity",
                                    "rel_query_top_value", "rel_query_similar_mean"};
  for (int c = 0; c < impl_->classes; ++c) {
    names.push_back("rel_query_share_" + std::to_string(c));
    names.push_back("rel_query_max_similarity_" + std::to_string(c));
    names.push_back("rel_query_mean_similarity_" + std::to_string(c));
    names.push_back("rel_query_max_full_similarity_" + std::to_string(c));
  }
  names.push_back("rel_query_full_knn");
  names.push_back("rel_product_judged");
  names.push_back("rel_product_mean");
  return names;
}

double RelationalIndex::similarity(std::uint32_t a, std::uint32_t b) const {
  return dot(impl_->vectors[a], impl_->vectors[b]);
}

void RelationalIndex::features(std::string_view query_key, std::uint32_t product, int skip_fold, std::vector<float>* out) const {
  const int classes = impl_->classes;
  double judged = 0, sum = 0, knn_num = 0, knn_den = 0, top_sim = -1, top_value = 0;
  double similar_num = 0, similar_den = 0;
  std::vector<double> share(static_cast<std::size_t>(classes)), max_sim(static_cast<std::size_t>(classes), -1),
      sim_sum(static_cast<std::size_t>(classes)), max_full(static_cast<std::size_t>(classes), -1);
  double full_num = 0, full_den = 0;
  auto found = impl_->by_query.find(std::string(query_key));
  if (found != impl_->by_query.end()) {
    for (const Impl::Neighbour& neighbour : found->second) {
      // The pair asked about (its own label) and the fold left out stay out.
      if (neighbour.product == product || neighbour.fold == skip_fold) continue;
      const double sim = dot(impl_->vectors[product], impl_->vectors[neighbour.product]);
      const double full = dot(impl_->full_vectors[product], impl_->full_vectors[neighbour.product]);
      const double wf = full * full * full + 1e-3;
      full_num += wf * neighbour.value, full_den += wf;
      judged += 1;
      sum += neighbour.value;
      // Attention over the query's neighbours by similarity: sharp, so that the closest
      // products dominate; a floor keeps a query with no similar product at its plain mean.
      const double w = sim * sim * sim + 1e-3;
      knn_num += w * neighbour.value, knn_den += w;
      if (sim >= 0.5) similar_num += neighbour.value, similar_den += 1;
      if (sim > top_sim) top_sim = sim, top_value = neighbour.value;
      if (neighbour.label >= 0) {
        const auto c = static_cast<std::size_t>(neighbour.label);
        share[c] += 1;
        max_sim[c] = std::max(max_sim[c], sim);
        sim_sum[c] += sim;
        max_full[c] = std::max(max_full[c], full);
      }
    }
  }
  out->push_back(static_cast<float>(std::log1p(judged)));
  out->push_back(judged > 0 ? static_cast<float>(sum / judged) : kMissing);
  out->push_back(judged > 0 ? static_cast<float>(knn_num / knn_den) : kMissing);
  out->push_back(judged > 0 ? static_cast<float>(top_sim) : kMissing);
  out->push_back(judged > 0 ? static_cast<float>(top_value) : kMissing);
  out->push_back(similar_den > 0 ? static_cast<float>(similar_num / similar_den) : kMissing);
  for (std::size_t c = 0; c < static_cast<std::size_t>(classes); ++c) {
    out->push_back(judged > 0 ? static_cast<float>(share[c] / judged) : kMissing);
    out->push_back(share[c] > 0 ? static_cast<float>(max_sim[c]) : kMissing);
    out->push_back(share[c] > 0 ? static_cast<float>(sim_sum[c] / share[c]) : kMissing);
    out->push_back(share[c] > 0 ? static_cast<float>(max_full[c]) : kMissing);
  }
  out->push_back(judged > 0 ? static_cast<float>(full_num / full_den) : kMissing);
  double product_judged = 0, product_sum = 0;
  for (const Impl::Judgment& judgment : impl_->by_product[product]) {
    if (judgment.query_key == query_key || judgment.fold == skip_fold) continue;
    product_judged += 1, product_sum += judgment.value;
  }
  out->push_back(static_cast<float>(std::log1p(product_judged)));
  out->push_back(product_judged > 0 ? static_cast<float>(product_sum / product_judged) : kMissing);
}

}  // namespace aisle::rank
