#include "aisle/rank/online.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

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

// One journal line: an update as policy_->update() took it, with its sequence number (the
// policy's update count after it).
std::string journal_line(std::int64_t sequence, const retrieve::QuerySignals& s, const retrieve::PolicyAction& action,
                         const std::array<double, retrieve::kNumStrategies>& reward) {
  const nlohmann::json line = {
      {"seq", sequence},
      {"signals",
       {{"locale", s.locale}, {"terms", s.terms}, {"brand", s.brand}, {"color", s.color}, {"category", s.category},
        {"slot_confidence", s.slot_confidence}, {"frequency", s.frequency}, {"time_ms", s.time_ms},
        {"user_events", s.user_events}, {"result_counts", s.result_counts}}},
      {"depth", action.depth},
      {"reward", reward}};
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

struct JournalEntry {
  std::int64_t sequence = 0;
  retrieve::QuerySignals signals;
  retrieve::PolicyAction action;
  std::array<double, retrieve::kNumStrategies> reward{};
};

// nullopt for a line that is not a journal entry (parse error or missing fields).
std::optional<JournalEntry> parse_journal_line(const std::string& text) {
  const nlohmann::json line = nlohmann::json::parse(text, nullptr, false);
  if (line.is_discarded() || !line.is_object()) return std::nullopt;
  try {
    JournalEntry entry;
    entry.sequence = line.at("seq").get<std::int64_t>();
    const nlohmann::json& s = line.at("signals");
    entry.signals.locale = s.at("locale").get<std::string>();
    entry.signals.terms = s.at("terms").get<int>();
    entry.signals.brand = s.at("brand").get<bool>();
    entry.signals.color = s.at("color").get<bool>();
    entry.signals.category = s.at("category").get<bool>();
    entry.signals.slot_confidence = s.at("slot_confidence").get<double>();
    entry.signals.frequency = s.at("frequency").get<std::int64_t>();
    entry.signals.time_ms = s.at("time_ms").get<std::int64_t>();
    entry.signals.user_events = s.at("user_events").get<std::int64_t>();
    entry.signals.result_counts = s.at("result_counts").get<std::array<int, retrieve::kNumStrategies>>();
    entry.action.depth = line.at("depth").get<std::array<int, retrieve::kNumStrategies>>();
    entry.reward = line.at("reward").get<std::array<double, retrieve::kNumStrategies>>();
    for (int depth : entry.action.depth) {
      if (depth < 0) return std::nullopt;
    }
    return entry;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::filesystem::path policy_path(const std::filesystem::path& data_dir) { return data_dir / "index" / "policy.json"; }
std::filesystem::path policy_journal_path(const std::filesystem::path& data_dir) { return data_dir / "index" / "policy.journal"; }

OnlinePolicy::OnlinePolicy(std::filesystem::path data_dir, const OnlineOptions& options,
                           std::unique_ptr<retrieve::Policy> policy, std::uint64_t seed)
    : data_dir_(std::move(data_dir)), options_(options), policy_(std::move(policy)), ids_(seed ^ 0x5eed1d5ULL) {
  stats_.updates = policy_->updates();
  saved_updates_ = stats_.updates;
}

OnlinePolicy::~OnlinePolicy() {
  if (journal_fd_ >= 0) ::close(journal_fd_);
}

Result<std::unique_ptr<OnlinePolicy>> OnlinePolicy::open(const std::filesystem::path& data_dir, const OnlineOptions& options,
                                                         std::uint64_t seed) {
  std::unique_ptr<retrieve::Policy> policy;
  if (std::filesystem::exists(policy_path(data_dir))) {
    AISLE_ASSIGN_OR_RETURN(policy, retrieve::Policy::load(policy_path(data_dir)));
  } else {
    AISLE_ASSIGN_OR_RETURN(policy, retrieve::Policy::create(options.policy, seed));
  }
  const std::int64_t saved = policy->updates();
  const std::filesystem::path journal = policy_journal_path(data_dir);
  if (options.persist && std::filesystem::exists(journal)) {
    std::ifstream in(journal, std::ios::binary);
    if (!in) return Status::io_error("cannot read " + journal.string());
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
    for (std::size_t i = 0; i < lines.size(); ++i) {
      auto entry = parse_journal_line(lines[i]);
      if (!entry) {
        if (i + 1 == lines.size()) break;  // torn by a kill mid-write: that update was never applied twice
        return Status::corruption("not a policy journal entry", Where(journal.string(), i + 1, ""));
      }
      if (entry->sequence <= policy->updates()) continue;  // policy.json has it (killed between save and truncate)
      if (entry->sequence != policy->updates() + 1) {
        return Status::corruption(fmt::format("update {} follows update {}: the journal has a gap", entry->sequence, policy->updates()),
                                  Where(journal.string(), i + 1, "seq"));
      }
      policy->update(entry->signals, entry->action, entry->reward);
    }
  }
  auto online = std::unique_ptr<OnlinePolicy>(new OnlinePolicy(data_dir, options, std::move(policy), seed));
  online->saved_updates_ = saved;  // replayed updates are not in policy.json yet
  return online;
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
  std::string journal;
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
      const auto reward = retrieve::share_credit(p.decision.action, found_by, weights);
      policy_->update(p.decision.signals, p.decision.action, reward);
      ++stats_.updates;
      if (options_.persist) journal += journal_line(policy_->updates(), p.decision.signals, p.decision.action, reward);
      pending_.erase(found);
    }
    order_.pop_front();
  }
  if (!journal.empty()) AISLE_RETURN_IF_ERROR(append_journal_locked(journal));
  if (options_.save_every > 0 && stats_.updates - saved_updates_ >= options_.save_every) return save_locked();
  return Status::ok();
}

Status OnlinePolicy::append_journal_locked(const std::string& lines) {
  const std::filesystem::path path = policy_journal_path(data_dir_);
  if (journal_fd_ < 0) {
    std::error_code error;
    std::filesystem::create_directories(path.parent_path(), error);
    journal_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (journal_fd_ < 0) return Status::io_error(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  }
  // One write per settle: a kill leaves whole lines, or a torn last one that open() skips.
  std::size_t done = 0;
  while (done < lines.size()) {
    const ssize_t n = ::write(journal_fd_, lines.data() + done, lines.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::io_error(fmt::format("cannot append to {}: {}", path.string(), std::strerror(errno)));
    done += static_cast<std::size_t>(n);
  }
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
  // policy.json has every journaled update now; a kill before the truncation leaves entries
  // that open() skips by their sequence numbers.
  if (journal_fd_ >= 0) {
    if (::ftruncate(journal_fd_, 0) != 0) {
      return Status::io_error(fmt::format("cannot empty {}: {}", policy_journal_path(data_dir_).string(), std::strerror(errno)));
    }
  } else if (std::filesystem::exists(policy_journal_path(data_dir_))) {
    std::error_code removed;
    std::filesystem::remove(policy_journal_path(data_dir_), removed);
    if (removed) return Status::io_error("cannot remove " + policy_journal_path(data_dir_).string() + ": " + removed.message());
  }
  return Status::ok();
}

OnlineStats OnlinePolicy::stats() {
  std::lock_guard lock(mutex_);
  OnlineStats out = stats_;
  out.pending = pending_.size();
  return out;
}

}  // namespace aisle::rank
