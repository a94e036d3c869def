// Learning to rank from click logs: a position-bias estimate and inverse-propensity-weighted
// relevance labels.
//
// Shoppers click what they see, and they see the top of a list more often: a raw click-through
// rate confounds relevance with position. The position-based click model (Craswell et al. 2008)
// says P(click | q, d, k) = theta_k * gamma_qd: the shopper examines position k with
// probability theta_k and clicks an examined product with probability gamma_qd (its relevance).
// estimate_position_bias() fits theta and gamma by expectation-maximization over the logged
// impressions and clicks (Wang et al., "Position Bias Estimation for Unbiased Learning to Rank
// in Personal Search", WSDM 2018), which works from ordinary logs (no randomized
// interventions) as long as products are seen at several positions.
//
// ips_relevance() then gives each (query, product) the inverse-propensity-weighted click rate
//   r_qd = sum_k clicks_qdk / max(theta_k / theta_1, min_propensity) / sum_k impressions_qdk
// (Joachims et al., "Unbiased Learning-to-Rank with Biased Feedback", WSDM 2017): in
// expectation, the click rate the product would have at position 1. Clipping the propensity
// bounds the variance from rarely examined positions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aisle/core/context.h"
#include "aisle/core/ids.h"
#include "aisle/core/status.h"
#include "aisle/retrieve/memory.h"
#include "aisle/store/store.h"

namespace aisle::rank {

// Impressions and clicks of one product for one query at one position (1-based).
struct ClickCounts {
  std::string query;  // normalized query text (the caller's key)
  ProductId product;
  int position = 0;
  std::int64_t impressions = 0;
  std::int64_t clicks = 0;
};

struct PositionBiasOptions {
  int max_positions = 50;   // positions beyond share the last one's examination
  int iterations = 200;
  double tolerance = 1e-7;  // stop when no theta moves by more than this
};

struct PositionBias {
  // examination[k - 1] = theta_k, the probability that position k is examined.
  std::vector<double> examination;
  // Relative to position 1 (propensity[0] = 1): what the IPS weights use.
  std::vector<double> propensity;
  int iterations = 0;
  std::int64_t impressions = 0;
  std::int64_t clicks = 0;
  double propensity_at(int position) const;  // positions beyond the last share the last
};

// kBadInput for a row with position < 1, negative counts or more clicks than impressions, or
// when there are no impressions at all.
Result<PositionBias> estimate_position_bias(std::span<const ClickCounts> rows, const PositionBiasOptions& options = {});

struct ClickRelevance {
  std::string query;
  ProductId product;
  double relevance = 0;  // the IPS-weighted click rate, clipped to [0, 1]
  std::int64_t impressions = 0;
  std::int64_t clicks = 0;
};

// One entry per (query, product), ordered by query then product.
std::vector<ClickRelevance> ips_relevance(std::span<const ClickCounts> rows, const PositionBias& bias,
                                          double min_propensity = 0.05);

// Brings the memory index of a data directory (retrieve/memory.h) up to date with the store's
// events: the position propensities come from estimate_position_bias over the log's positioned
// impressions and clicks (none when it has no clicks), and when the data directory has an ESCI
// classifier, products without engagement get predicted entries scored by its P(Exact).
// `bias` (optional) receives the estimate.
Result<std::unique_ptr<retrieve::MemoryIndex>> update_memory(store::Store& store, const std::filesystem::path& data_dir,
                                                             bool rebuild, const Context& context,
                                                             retrieve::MemoryBuildReport* report, PositionBias* bias);

}  // namespace aisle::rank
