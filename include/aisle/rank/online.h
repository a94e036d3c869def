// OnlinePolicy: the retrieval bandit (retrieve::Policy) in the loop of a running engine.
//
// A search asks choose() for an action: the policy sees the query's signals (locale, terms,
// query-understanding slots, how often the memory index has seen the query, the time, the
// strategies' result counts the last time the query ran) and picks strategies and depths
// under its budget. The caller runs the pipeline with that action and record()s what was
// shown; the search gets an id. Feedback events that name the search id (reward()) credit the
// strategies that found the engaged product (retrieve::share_credit; weight of the strongest
// event per product: click 1, add to cart 3, purchase 5). A search's reward is final once it
// is feedback_window_ms old: settle() then updates the policy with it (a search nobody engaged
// with is a zero reward, which is what teaches the policy that an action does not pay). The
// policy's state is saved to <data_dir>/index/policy.json every save_every updates and by
// save(); between saves every update is appended to <data_dir>/index/policy.journal (one JSON
// line: the update's sequence number, signals, action and rewards) as it is applied, so a
// process killed with -9 loses none (the journal is written, not fsynced, per settle: a power
// cut may lose the last updates, policy.json is fsynced). open() loads policy.json and replays
// the journal's later updates; save() empties the journal. Searches still awaiting feedback
// are in memory only: a restart forgets them (their later events reward nothing).
//
// Thread-safe: every method takes one internal mutex (choose() is a few hundred arm
// evaluations; the search itself runs outside the lock).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>

#include "aisle/core/ids.h"
#include "aisle/core/status.h"
#include "aisle/io/records.h"
#include "aisle/rank/pipeline.h"
#include "aisle/retrieve/memory.h"
#include "aisle/retrieve/policy.h"

namespace aisle::rank {

std::filesystem::path policy_path(const std::filesystem::path& data_dir);
std::filesystem::path policy_journal_path(const std::filesystem::path& data_dir);

struct OnlineOptions {
  retrieve::PolicyConfig policy;  // for a new policy (a saved one keeps its own)
  std::int64_t feedback_window_ms = 30 * 60 * 1000;
  std::size_t max_pending = 100000;  // beyond this the oldest searches settle early
  std::int64_t save_every = 1000;    // policy updates between saves; 0: only save()
  bool persist = true;               // false: never write policy.json (a one-off CLI search)
};

struct OnlineDecision {
  std::string search_id;  // 16 hex digits
  retrieve::PolicyAction action;
  retrieve::QuerySignals signals;
  std::string key;  // the query's memory key
};

struct OnlineStats {
  std::int64_t searches = 0;
  std::int64_t rewarded_events = 0;  // reward() calls that found their search
  std::int64_t updates = 0;          // policy updates (settled searches), including earlier runs
  std::size_t pending = 0;
};

class OnlinePolicy {
 public:
  // Loads <data_dir>/index/policy.json, or creates a policy from options.policy (seeded by
  // `seed`) when there is none, then replays the journal's updates that policy.json lacks.
  // kCorruption naming a bad file (file:line for the journal; a torn last line, from a process
  // killed mid-write, is ignored).
  static Result<std::unique_ptr<OnlinePolicy>> open(const std::filesystem::path& data_dir, const OnlineOptions& options,
                                                    std::uint64_t seed);
  ~OnlinePolicy();

  // The action for `query` among the strategies `pipeline` can run (memory: with `memory`,
  // which must not change during the call). now_ms: Unix ms. user_events: the shopper's
  // earlier engagement events, -1 when unknown.
  Result<OnlineDecision> choose(const SearchPipeline& pipeline, std::string_view query, std::string_view locale,
                                const retrieve::MemoryIndex* memory, std::int64_t now_ms, std::int64_t user_events = -1);
  // Remembers the search (its shown hits and their strategies) for feedback.
  void record(const OnlineDecision& decision, const PipelineResult& result, std::int64_t now_ms);
  // Credits an engagement event of `product` to search `search_id`. false when the search is
  // unknown (never made, already settled, or forgotten after a restart) or the product was not
  // among its results; impressions are never rewards.
  bool reward(std::string_view search_id, ProductId product, io::EventType type);
  // Updates the policy with every search older than the feedback window (all of them with
  // `all`, e.g. at shutdown), then saves when save_every updates have passed.
  Status settle(std::int64_t now_ms, bool all);
  // Writes policy.json now (crash-safe). A no-op without persist.
  Status save();

  OnlineStats stats();
  const retrieve::PolicyConfig& config() const;

 private:
  struct Pending {
    OnlineDecision decision;
    std::int64_t ts_ms = 0;
    std::unordered_map<std::uint32_t, std::uint32_t> found_by;  // shown product -> strategy bits
    std::unordered_map<std::uint32_t, double> weight;            // engaged product -> strongest weight
  };
  OnlinePolicy(std::filesystem::path data_dir, const OnlineOptions& options, std::unique_ptr<retrieve::Policy> policy,
               std::uint64_t seed);
  Status save_locked();
  Status append_journal_locked(const std::string& lines);

  std::filesystem::path data_dir_;
  OnlineOptions options_;
  std::mutex mutex_;
  std::unique_ptr<retrieve::Policy> policy_;
  std::mt19937_64 ids_;
  std::unordered_map<std::string, Pending> pending_;
  std::deque<std::string> order_;  // pending search ids, oldest first
  // The strategies' result counts the last time each memory key ran (bounded; cleared when full).
  std::unordered_map<std::string, std::array<int, retrieve::kNumStrategies>> last_counts_;
  OnlineStats stats_;
  std::int64_t saved_updates_ = 0;
  int journal_fd_ = -1;  // open for appending once the first update is journaled
};

}  // namespace aisle::rank
