#include "aisle/retrieve/query_understanding.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <mutex>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "aisle/core/files.h"
#include "aisle/text/analyzer.h"

namespace aisle::retrieve {
namespace {

struct SlotCount {
  std::string type;
  std::string value;
  std::int64_t products = 0;
};

struct PhraseEntry {
  std::vector<SlotCount> slots;
  std::int64_t mentions = 0;  // products mentioning the phrase anywhere
};

// Analyzers per locale behind one mutex: learning and understanding are not hot paths.
class Analyzers {
 public:
  Result<std::vector<std::string>> terms(const std::string& locale, std::string_view text) {
    std::lock_guard lock(mutex_);
    auto found = analyzers_.find(locale);
    if (found == analyzers_.end()) {
      AISLE_ASSIGN_OR_RETURN(auto analyzer, text::Analyzer::create(locale));
      found = analyzers_.emplace(locale, std::move(analyzer)).first;
    }
    return found->second->terms(text);
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<text::Analyzer>> analyzers_;
};

std::string join(const std::vector<std::string>& terms, std::size_t begin, std::size_t end) {
  std::string out;
  for (std::size_t i = begin; i < end; ++i) {
    if (i > begin) out += ' ';
    out += terms[i];
  }
  return out;
}

std::string phrase_key(const std::string& locale, const std::string& phrase) { return locale + '\t' + phrase; }

// The (type, value display, phrase text) slots a document fills.
std::vector<std::pair<std::string, std::pair<std::string, std::string>>> document_slots(const text::Document& document) {
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>> out;
  if (!document.brand.empty()) out.push_back({"brand", {document.brand, document.brand}});
  if (!document.color.empty()) out.push_back({"color", {document.color, document.color}});
  std::string path;
  for (const std::string& level : document.category) {
    if (!path.empty()) path += " > ";
    path += level;
    out.push_back({"category", {path, level}});
  }
  for (const auto& [name, value] : document.attributes) {
    if (!value.empty() && value.size() <= 40) out.push_back({"attribute:" + name, {value, value}});
  }
  return out;
}

}  // namespace

class QueryUnderstanding::Impl {
 public:
  QueryUnderstandingOptions options;
  std::unordered_map<std::string, PhraseEntry> phrases;
  mutable Analyzers analyzers;
};

class QueryUnderstanding::Builder::Impl {
 public:
  QueryUnderstandingOptions options;
  Analyzers analyzers;
  // phrase key -> (type \x1f value) -> products
  std::unordered_map<std::string, std::map<std::pair<std::string, std::string>, std::int64_t>> slots;
  std::unordered_map<std::string, std::int64_t> mentions;
};

QueryUnderstanding::Builder::Builder(QueryUnderstandingOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
}
QueryUnderstanding::Builder::~Builder() = default;

Status QueryUnderstanding::Builder::add(const text::Document& document) {
  std::set<std::pair<std::string, std::pair<std::string, std::string>>> seen;
  for (auto& slot : document_slots(document)) {
    AISLE_ASSIGN_OR_RETURN(auto terms, impl_->analyzers.terms(document.locale, slot.second.second));
    if (terms.empty() || terms.size() > static_cast<std::size_t>(impl_->options.max_phrase_terms)) continue;
    std::string key = phrase_key(document.locale, join(terms, 0, terms.size()));
    if (!seen.insert({key, {slot.first, slot.second.first}}).second) continue;
    ++impl_->slots[key][{slot.first, slot.second.first}];
  }
  return Status::ok();
}

Status QueryUnderstanding::Builder::count(const text::Document& document) {
  std::unordered_set<std::string> present;
  AISLE_ASSIGN_OR_RETURN(auto title, impl_->analyzers.terms(document.locale, document.title));
  const auto max_terms = static_cast<std::size_t>(impl_->options.max_phrase_terms);
  for (std::size_t begin = 0; begin < title.size(); ++begin) {
    for (std::size_t end = begin + 1; end <= std::min(title.size(), begin + max_terms); ++end) {
      std::string key = phrase_key(document.locale, join(title, begin, end));
      if (impl_->slots.contains(key)) present.insert(std::move(key));
    }
  }
  for (auto& slot : document_slots(document)) {
    AISLE_ASSIGN_OR_RETURN(auto terms, impl_->analyzers.terms(document.locale, slot.second.second));
    if (terms.empty() || terms.size() > max_terms) continue;
    present.insert(phrase_key(document.locale, join(terms, 0, terms.size())));
  }
  for (const std::string& key : present) ++impl_->mentions[key];
  return Status::ok();
}

std::unique_ptr<QueryUnderstanding> QueryUnderstanding::Builder::build() {
  auto impl = std::make_unique<QueryUnderstanding::Impl>();
  impl->options = impl_->options;
  for (auto& [key, counts] : impl_->slots) {
    PhraseEntry entry;
    entry.mentions = impl_->mentions[key];
    for (const auto& [slot, products] : counts) {
      if (products < impl_->options.min_products) continue;
      entry.slots.push_back(SlotCount{slot.first, slot.second, products});
    }
    if (entry.slots.empty()) continue;
    std::sort(entry.slots.begin(), entry.slots.end(), [](const SlotCount& a, const SlotCount& b) {
      return a.products != b.products ? a.products > b.products : a.value < b.value;
    });
    entry.mentions = std::max(entry.mentions, entry.slots.front().products);
    impl->phrases.emplace(key, std::move(entry));
  }
  return std::unique_ptr<QueryUnderstanding>(new QueryUnderstanding(std::move(impl)));
}

QueryUnderstanding::QueryUnderstanding(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
QueryUnderstanding::~QueryUnderstanding() = default;

std::size_t QueryUnderstanding::phrase_count() const { return impl_->phrases.size(); }

Result<QueryAnalysis> QueryUnderstanding::understand(std::string_view query, std::string_view locale) const {
  QueryAnalysis analysis;
  AISLE_ASSIGN_OR_RETURN(analysis.terms, impl_->analyzers.terms(std::string(locale), query));
  const std::vector<std::string>& terms = analysis.terms;
  const std::size_t n = terms.size();
  if (n == 0) return analysis;
  // Candidate slots of every span [begin, end), best two per span.
  struct Span {
    std::size_t end;
    std::vector<Slot> slots;
  };
  std::vector<std::vector<Span>> spans(n);
  std::vector<double> best_at(n, 0.0);
  for (std::size_t begin = 0; begin < n; ++begin) {
    for (std::size_t end = begin + 1; end <= std::min(n, begin + static_cast<std::size_t>(impl_->options.max_phrase_terms)); ++end) {
      std::string phrase = join(terms, begin, end);
      auto found = impl_->phrases.find(phrase_key(std::string(locale), phrase));
      if (found == impl_->phrases.end()) continue;
      Span span{end, {}};
      for (const SlotCount& slot : found->second.slots) {
        if (span.slots.size() == 2) break;
        double likelihood = std::min(1.0, static_cast<double>(slot.products) / static_cast<double>(found->second.mentions));
        span.slots.push_back(Slot{slot.type, slot.value, phrase, likelihood});
        best_at[begin] = std::max(best_at[begin], likelihood);
      }
      spans[begin].push_back(std::move(span));
    }
  }
  // Enumerate segmentations; queries are short, and each position offers few choices.
  std::vector<Interpretation> found;
  Interpretation current;
  auto walk = [&](auto&& self, std::size_t at, double score) -> void {
    if (found.size() > 2000) return;
    if (at == n) {
      Interpretation done = current;
      done.likelihood = score;
      found.push_back(std::move(done));
      return;
    }
    current.remainder.push_back(terms[at]);
    self(self, at + 1, score * (1.0 - best_at[at]));
    current.remainder.pop_back();
    for (const Span& span : spans[at]) {
      for (const Slot& slot : span.slots) {
        bool duplicate_type = std::any_of(current.slots.begin(), current.slots.end(),
                                          [&](const Slot& s) { return s.type == slot.type && s.type != "category"; });
        if (duplicate_type) continue;
        current.slots.push_back(slot);
        self(self, span.end, score * slot.likelihood);
        current.slots.pop_back();
      }
    }
  };
  walk(walk, 0, 1.0);
  std::sort(found.begin(), found.end(), [](const Interpretation& a, const Interpretation& b) {
    if (a.likelihood != b.likelihood) return a.likelihood > b.likelihood;
    return a.slots.size() > b.slots.size();
  });
  if (found.size() > static_cast<std::size_t>(impl_->options.max_interpretations)) {
    found.resize(static_cast<std::size_t>(impl_->options.max_interpretations));
  }
  double total = 0;
  for (const Interpretation& interpretation : found) total += interpretation.likelihood;
  for (Interpretation& interpretation : found) {
    interpretation.likelihood = total > 0 ? interpretation.likelihood / total : 1.0 / static_cast<double>(found.size());
  }
  analysis.interpretations = std::move(found);
  return analysis;
}

Status QueryUnderstanding::save(const std::filesystem::path& path) const {
  nlohmann::json root;
  root["format"] = "aisle-query-understanding";
  root["version"] = kFormatVersion;
  root["max_phrase_terms"] = impl_->options.max_phrase_terms;
  root["max_interpretations"] = impl_->options.max_interpretations;
  root["min_products"] = impl_->options.min_products;
  std::map<std::string, const PhraseEntry*> sorted;
  for (const auto& [key, entry] : impl_->phrases) sorted.emplace(key, &entry);
  nlohmann::json phrases = nlohmann::json::array();
  for (const auto& [key, entry] : sorted) {
    nlohmann::json slots = nlohmann::json::array();
    for (const SlotCount& slot : entry->slots) slots.push_back({slot.type, slot.value, slot.products});
    phrases.push_back({{"key", key}, {"mentions", entry->mentions}, {"slots", slots}});
  }
  root["phrases"] = phrases;
  return write_file_atomically(path, root.dump() + "\n");
}

Result<std::unique_ptr<QueryUnderstanding>> QueryUnderstanding::load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Status::not_found("no query-understanding dictionary at " + path.string());
  auto impl = std::make_unique<Impl>();
  try {
    nlohmann::json root = nlohmann::json::parse(in);
    if (root.value("format", "") != "aisle-query-understanding" || root.at("version").get<int>() != kFormatVersion) {
      return Status::corruption("query-understanding file " + path.string() + ": unknown format or version");
    }
    impl->options.max_phrase_terms = root.at("max_phrase_terms").get<int>();
    impl->options.max_interpretations = root.at("max_interpretations").get<int>();
    impl->options.min_products = root.at("min_products").get<std::int64_t>();
    for (const auto& phrase : root.at("phrases")) {
      PhraseEntry entry;
      entry.mentions = phrase.at("mentions").get<std::int64_t>();
      for (const auto& slot : phrase.at("slots")) {
        entry.slots.push_back(SlotCount{slot.at(0).get<std::string>(), slot.at(1).get<std::string>(),
                                        slot.at(2).get<std::int64_t>()});
      }
      if (entry.slots.empty() || entry.mentions <= 0) {
        return Status::corruption("query-understanding file " + path.string() + ": phrase without slots");
      }
      impl->phrases.emplace(phrase.at("key").get<std::string>(), std::move(entry));
    }
  } catch (const nlohmann::json::exception& error) {
    return Status::corruption("query-understanding file " + path.string() + ": " + error.what());
  }
  return std::unique_ptr<QueryUnderstanding>(new QueryUnderstanding(std::move(impl)));
}

}  // namespace aisle::retrieve
