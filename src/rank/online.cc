#include "aisle/rank/online.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace aisle::rank {

namespace {

constexpr std::size_t kMaxRememberedQueries = 200000;

double event_weight(io::EventType type) {
  switch (type) {
    case io::EventType::kClick: return 1.0;
    case io::EventType::kAddToCart: return 3.0;
    case io::EventType::kPurchase: return 5.0;
    default: return 0.0;
  }
}

}  // namespace

std::filesystem::path policy_path(const std::filesystem::path& data_dir) { return data_dir / "index" / "policy.json"; }

OnlinePolicy::OnlinePolicy(std::filesystem::path data_dir, const OnlineOptions& options,
                           std::unique_ptr<retrieve::Policy> policy, std::uint64_t seed)
    : data_dir_(std::move(data_dir)), options_(options), policy_(std::move(policy)), ids_(seed ^ 0x5eed1d5ULL) {
  stats_.updates = policy_->updates();
  saved_updates_ = stats_.updates;
}

OnlinePolicy::~OnlinePolicy() = default;

Result<std::unique_ptr<OnlinePolicy>> OnlinePolicy::open(const std::filesystem::path& data_dir, const OnlineOptions& options,
                                                         std::uint64_t seed) {
  std::unique_ptr<retrieve::Policy> policy;
  if (std::filesystem::exists(policy_path(data_dir))) {
    AISLE_ASSIGN_OR_RETURN(policy, retrieve::Policy::load(policy_path(data_dir)));
  } else {
    AISLE_ASSIGN_OR_RETURN(policy, retrieve::Policy::create(options.policy, seed));
  }
  return std::unique_ptr<OnlinePolicy>(new OnlinePolicy(data_dir, options, std::move(policy), seed));
}

const retrieve::PolicyConfig& OnlinePolicy::config() const { return policy_->config(); }

Result<OnlineDecision> OnlinePolicy::choose(const SearchPipeline& pipeline, std::string_view query, std::string_view locale,
                                            const retrieve::MemoryIndex* memory, std::int64_t now_ms,
                                            std::int64_t user_events) {
  // Query understanding and the key run outside the lock.
  AISLE_ASSIGN_OR_RETURN(retrieve::QueryAnalysis analysis, pipeline.catalog().understanding->understand(query, locale));
  OnlineDecision decision;
  decision.signals = retrieve::query_signals(analysis, locale);
  AISLE_ASSIGN_OR_RETURN(decision.key, pipeline.memory_key(query, locale));
  const retrieve::MemoryIndex* known = memory != nullptr ? memory : pipeline.memory();
  decision.signals.frequency = known != nullptr ? known->frequency(decision.key) : 0;
  decision.signals.time_ms = now_ms;
  decision.signals.user_events = user_events;
  const auto available = pipeline.available(memory);
  std::lock_guard lock(mutex_);
  if (auto counts = last_counts_.find(decision.key); counts != last_counts_.end()) decision.signals.result_counts = counts->second;
  decision.action = policy_->choose(decision.signals, available);
  decision.search_id = fmt::format("{:016x}", ids_());
  ++stats_.searches;
  return decision;
}

void OnlinePolicy::record(const OnlineDecision& decision, const PipelineResult& result, std::int64_t now_ms) {
  Pending pending;
  pending.decision = decision;
  pending.ts_ms = now_ms;
  for (const PipelineHit& hit : result.hits) pending.found_by[hit.product.value()] = hit.provenance.found_by;
  std::array<int, retrieve::kNumStrategies> counts;
  for (int s = 0; s < retrieve::kNumStrategies; ++s) {
    counts[static_cast<std::size_t>(s)] = decision.action.uses(s) ? result.result_counts[static_cast<std::size_t>(s)] : -1;
  }
  std::lock_guard lock(mutex_);
  if (last_counts_.size() >= kMaxRememberedQueries) last_counts_.clear();
  auto& known = last_counts_.try_emplace(decision.key, std::array<int, retrieve::kNumStrategies>{-1, -1, -1, -1, -1, -1}).first->second;
  for (std::size_t s = 0; s < counts.size(); ++s) {
    if (counts[s] >= 0) known[s] = counts[s];  // strategies that did not run keep their last count
  }
  order_.push_back(decision.search_id);
  pending_.emplace(decision.search_id, std::move(pending));
}

bool OnlinePolicy::reward(std::string_view search_id, ProductId product, io::EventType type) {
  const double weight = event_weight(type);
  if (weight <= 0) return false;
  std::lock_guard lock(mutex_);
  auto found = pending_.find(std::string(search_id));
  if (found == pending_.end() || !found->second.found_by.contains(product.value())) return false;
  double& strongest = found->second.weight[product.value()];
  strongest = std::max(strongest, weight);
  ++stats_.rewarded_events;
  return true;
}

Status OnlinePolicy::settle(std::int64_t now_ms, bool all) {
  std::lock_guard lock(mutex_);
  while (!order_.empty()) {
    auto found = pending_.find(order_.front());
    if (found != pending_.end()) {
      const bool due = all || pending_.size() > options_.max_pending || now_ms - found->second.ts_ms >= options_.feedback_window_ms;
      if (!due) break;
      Pending& p = found->second;
      std::vector<std::uint32_t> found_by;
      std::vector<double> weights;
      for (const auto& [product, weight] : p.weight) {
        found_by.push_back(p.found_by[product]);
        weights.push_back(weight);
      }
      policy_->update(p.decision.signals, p.decision.action, retrieve::share_credit(p.decision.action, found_by, weights));
      ++stats_.updates;
      pending_.erase(found);
    }
    order_.pop_front();
  }
  if (options_.save_every > 0 && stats_.updates - saved_updates_ >= options_.save_every) return save_locked();
  return Status::ok();
}

Status OnlinePolicy::save() {
  std::lock_guard lock(mutex_);
  return save_locked();
}

Status OnlinePolicy::save_locked() {
  if (!options_.persist) return Status::ok();
  std::error_code error;
  std::filesystem::create_directories(policy_path(data_dir_).parent_path(), error);
  if (error) return Status::io_error("cannot create " + policy_path(data_dir_).parent_path().string() + ": " + error.message());
  AISLE_RETURN_IF_ERROR(policy_->save(policy_path(data_dir_)));
  saved_updates_ = stats_.updates;
  return Status::ok();
}

OnlineStats OnlinePolicy::stats() {
  std::lock_guard lock(mutex_);
  OnlineStats out = stats_;
  out.pending = pending_.size();
  return out;
}

}  // namespace aisle::rank
