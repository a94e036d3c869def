// The synthetic catalog of the benchmarks: real Home Depot title tokens recombined with their
// observed frequencies (the model is described in aisle/eval/lexical_bench.h), the real
// queries, and latency summaries. Private to eval.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/status.h"
#include "aisle/io/byte_source.h"
#include "aisle/io/readers.h"
#include "aisle/text/document.h"

namespace aisle::eval {

inline double peak_rss_mb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

inline std::string lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

inline const std::set<std::string>& color_words() {
  static const auto* words = new std::set<std::string>{
      "white", "black", "brown", "gray", "grey", "silver", "red", "blue", "green", "yellow", "orange", "bronze",
      "beige", "tan", "ivory", "chrome", "nickel", "brass", "copper", "gold", "clear", "natural", "pink", "purple"};
  return *words;
}

// Token statistics of real titles, and the generator that recombines them.
class CatalogModel {
 public:
  void add_title(const std::string& title) {
    std::vector<std::string> tokens;
    std::size_t start = 0;
    while (start < title.size()) {
      std::size_t end = title.find(' ', start);
      if (end == std::string::npos) end = title.size();
      if (end > start) tokens.push_back(title.substr(start, end - start));
      start = end + 1;
    }
    if (tokens.empty()) return;
    ++lengths_[std::min<std::size_t>(tokens.size(), 40)];
    ++brands_[tokens.front()];
    for (std::size_t i = 1; i < tokens.size(); ++i) {
      ++words_[tokens[i]];
      if (color_words().contains(lower(tokens[i]))) ++colors_[tokens[i]];
    }
  }

  void finish(std::uint64_t seed) {
    auto table = [](const std::unordered_map<std::string, std::int64_t>& counts, std::vector<std::string>* values,
                    std::discrete_distribution<std::size_t>* distribution) {
      std::vector<std::pair<std::string, std::int64_t>> sorted(counts.begin(), counts.end());
      std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
      std::vector<double> weights;
      for (auto& [value, count] : sorted) {
        values->push_back(value);
        weights.push_back(static_cast<double>(count));
      }
      *distribution = std::discrete_distribution<std::size_t>(weights.begin(), weights.end());
    };
    table(words_, &word_values_, &word_distribution_);
    table(brands_, &brand_values_, &brand_distribution_);
    table(colors_, &color_values_, &color_distribution_);
    std::vector<double> length_weights(41, 0.0);
    for (auto& [length, count] : lengths_) length_weights[length] = static_cast<double>(count);
    length_distribution_ = std::discrete_distribution<std::size_t>(length_weights.begin(), length_weights.end());
    // Categories: 40 departments x 12 sections named after frequent title words.
    for (std::size_t i = 0; i < 40 && i < word_values_.size(); ++i) departments_.push_back(word_values_[i * 3 % word_values_.size()]);
    for (std::size_t i = 0; i < 12 && i < word_values_.size(); ++i) sections_.push_back(word_values_[(i * 7 + 50) % word_values_.size()]);
    random_.seed(seed);
  }

  std::size_t vocabulary() const { return word_values_.size(); }

  text::Document next(std::uint32_t id) {
    text::Document document;
    document.product = ProductId(id);
    document.external_id = "S" + std::to_string(id);
    document.locale = "en";
    document.brand = brand_values_[brand_distribution_(random_)];
    std::size_t length = std::max<std::size_t>(2, length_distribution_(random_));
    document.title = document.brand;
    for (std::size_t i = 1; i < length; ++i) {
      document.title += ' ';
      document.title += word_values_[word_distribution_(random_)];
    }
    if (!color_values_.empty() && random_() % 2 == 0) document.color = color_values_[color_distribution_(random_)];
    if (!departments_.empty()) {
      document.category = {departments_[random_() % departments_.size()], sections_[random_() % sections_.size()]};
    }
    std::lognormal_distribution<double> price(3.5, 1.0);
    document.price = std::round(price(random_) * 100) / 100;
    std::uniform_real_distribution<double> uniform(1e-6, 1.0);
    document.popularity = std::floor(std::pow(uniform(random_), -1.0 / 1.2));  // Pareto, alpha 1.2
    return document;
  }

 private:
  std::unordered_map<std::string, std::int64_t> words_, brands_, colors_;
  std::unordered_map<std::size_t, std::int64_t> lengths_;
  std::vector<std::string> word_values_, brand_values_, color_values_, departments_, sections_;
  std::discrete_distribution<std::size_t> word_distribution_, brand_distribution_, color_distribution_,
      length_distribution_;
  std::mt19937_64 random_;
};

inline Status read_source(const std::filesystem::path& path, CatalogModel* model, std::vector<std::string>* queries,
                   std::unordered_set<std::string>* seen_queries) {
  if (!std::filesystem::exists(path)) {
    return Status::not_found("benchmark source data missing: " + path.string() +
                             " (the Home Depot set lives under ../shared/data/relevance/homedepot; see its README)");
  }
  AISLE_ASSIGN_OR_RETURN(auto source, io::open_file(path));
  io::ReaderOptions options;
  AISLE_ASSIGN_OR_RETURN(options.format, io::detect_format(path, io::RecordKind::kJudgments, options.text));
  AISLE_ASSIGN_OR_RETURN(auto reader, io::open_judgment_reader(std::move(source), options));
  std::unordered_set<std::string> seen_titles;
  io::JudgmentRecord record;
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool more, reader->next(&record));
    if (!more) break;
    if (model != nullptr && record.product && seen_titles.insert(record.product->title).second) {
      model->add_title(record.product->title);
    }
    if (seen_queries->insert(record.query).second) queries->push_back(record.query);
  }
  return Status::ok();
}

struct Latency {
  std::vector<double> samples_ms;
  nlohmann::json report() {
    std::sort(samples_ms.begin(), samples_ms.end());
    double total = 0;
    for (double sample : samples_ms) total += sample;
    auto at = [&](double q) {
      if (samples_ms.empty()) return 0.0;
      return samples_ms[std::min(samples_ms.size() - 1, static_cast<std::size_t>(q * static_cast<double>(samples_ms.size())))];
    };
    return {{"mean_ms", samples_ms.empty() ? 0.0 : total / static_cast<double>(samples_ms.size())},
            {"p50_ms", at(0.5)},
            {"p99_ms", at(0.99)},
            {"queries", samples_ms.size()}};
  }
};


}  // namespace aisle::eval
