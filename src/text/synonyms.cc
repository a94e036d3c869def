#include "aisle/text/synonyms.h"

#include <algorithm>

namespace aisle::text {

Result<Synonyms> Synonyms::compile(const DataConfig& config, const AnalyzerOptions& analyzer_options) {
  Synonyms out;
  const std::string file = config.file.empty() ? std::string("aisle.toml") : config.file.string();
  for (const auto& [code, settings] : config.locales) {
    if (settings.synonyms.empty()) continue;
    const std::string locale = code;  // a lambda below names it (no structured binding there)
    AISLE_ASSIGN_OR_RETURN(auto analyzer, Analyzer::create(locale, analyzer_options));
    auto& by_first = out.rules_[locale];
    for (const SynonymRule& rule : settings.synonyms) {
      auto analyze = [&](const std::string& phrase) -> Result<std::vector<std::string>> {
        std::vector<std::string> terms = analyzer->terms(phrase);
        if (terms.empty()) {
          return Status::bad_input("\"" + phrase + "\" has no searchable word (stop words or punctuation only)",
                                   Where(file, static_cast<std::uint64_t>(rule.line), "locales." + locale + ".synonyms"));
        }
        return terms;
      };
      std::vector<std::vector<std::string>> from, to;
      for (const std::string& phrase : rule.from) {
        AISLE_ASSIGN_OR_RETURN(auto terms, analyze(phrase));
        from.push_back(std::move(terms));
      }
      for (const std::string& phrase : rule.to) {
        AISLE_ASSIGN_OR_RETURN(auto terms, analyze(phrase));
        to.push_back(std::move(terms));
      }
      for (const std::vector<std::string>& phrase : from) {
        std::vector<Entry>& entries = by_first[phrase.front()];
        auto entry = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.phrase == phrase; });
        if (entry == entries.end()) {
          entries.push_back(Entry{phrase, {}});
          entry = entries.end() - 1;
        }
        for (const std::vector<std::string>& target : to) {
          if (target == phrase) continue;
          if (std::find(entry->targets.begin(), entry->targets.end(), target) == entry->targets.end()) {
            entry->targets.push_back(target);
          }
        }
      }
    }
    for (auto& [first, entries] : by_first) {
      std::stable_sort(entries.begin(), entries.end(),
                       [](const Entry& a, const Entry& b) { return a.phrase.size() > b.phrase.size(); });
    }
  }
  return out;
}

std::size_t Synonyms::size() const {
  std::size_t n = 0;
  for (const auto& [locale, by_first] : rules_) {
    for (const auto& [first, entries] : by_first) n += entries.size();
  }
  return n;
}

std::vector<Synonyms::Expansion> Synonyms::expand(const std::string& locale, std::span<const std::string> terms) const {
  std::vector<Expansion> out;
  auto rules = rules_.find(locale);
  if (rules == rules_.end()) return out;
  std::size_t i = 0;
  while (i < terms.size()) {
    std::size_t matched = 0;
    if (auto found = rules->second.find(terms[i]); found != rules->second.end()) {
      for (const Entry& entry : found->second) {
        if (entry.phrase.size() > terms.size() - i) continue;
        if (!std::equal(entry.phrase.begin(), entry.phrase.end(), terms.begin() + static_cast<std::ptrdiff_t>(i))) continue;
        if (!entry.targets.empty()) out.push_back(Expansion{entry.phrase, entry.targets});
        matched = entry.phrase.size();
        break;
      }
    }
    i += std::max<std::size_t>(matched, 1);
  }
  return out;
}

}  // namespace aisle::text
