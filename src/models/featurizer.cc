#include "aisle/models/featurizer.h"

#include <algorithm>

namespace aisle::models {

nlohmann::json feature_options_to_json(const FeatureOptions& f) {
  return {{"buckets", f.buckets},
          {"word_bigrams", f.word_bigrams},
          {"max_query_tokens", f.max_query_tokens},
          {"max_product_tokens", f.max_product_tokens},
          {"use_description", f.use_description},
          {"title_weight", f.title_weight},
          {"brand_weight", f.brand_weight},
          {"color_weight", f.color_weight},
          {"category_weight", f.category_weight},
          {"description_weight", f.description_weight}};
}

Result<FeatureOptions> feature_options_from_json(const nlohmann::json& f) {
  FeatureOptions options;
  try {
    options.buckets = f.at("buckets").get<std::int64_t>();
    options.word_bigrams = f.at("word_bigrams").get<bool>();
    options.max_query_tokens = f.at("max_query_tokens").get<int>();
    options.max_product_tokens = f.at("max_product_tokens").get<int>();
    options.use_description = f.at("use_description").get<bool>();
    options.title_weight = f.at("title_weight").get<float>();
    options.brand_weight = f.at("brand_weight").get<float>();
    options.color_weight = f.at("color_weight").get<float>();
    options.category_weight = f.at("category_weight").get<float>();
    options.description_weight = f.at("description_weight").get<float>();
  } catch (const nlohmann::json::exception& error) {
    return Status::bad_input(std::string("feature options: ") + error.what());
  }
  return options;
}
namespace {

// Byte length of the UTF-8 sequence starting with `lead` (1 for continuation or invalid bytes,
// so a walk always advances).
std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xe) return 3;
  if ((lead >> 3) == 0x1e) return 4;
  return 1;
}

}  // namespace

std::int64_t feature_id(char kind, std::string_view text, std::int64_t buckets) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  hash = (hash ^ static_cast<unsigned char>(kind)) * 0x100000001b3ULL;
  for (char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  // FNV's low bits mix poorly; fold the high half in before taking the modulus.
  hash ^= hash >> 29;
  return static_cast<std::int64_t>(hash % static_cast<std::uint64_t>(buckets));
}

Result<text::Analyzer*> Featurizer::analyzer(std::string_view locale) {
  auto it = analyzers_.find(locale);
  if (it != analyzers_.end()) return it->second.get();
  AISLE_ASSIGN_OR_RETURN(auto created, text::Analyzer::create(locale));
  text::Analyzer* raw = created.get();
  analyzers_.emplace(std::string(locale), std::move(created));
  return raw;
}

void Featurizer::add_text(text::Analyzer& analyzer, std::string_view text, float weight, char tag, int max_tokens,
                          Features* out) {
  if (text.empty() || weight <= 0) return;
  std::vector<std::string> terms = analyzer.terms(text);
  const std::int64_t buckets = options_.buckets;
  std::string trigram, bigram;
  const std::string* previous = nullptr;
  for (const std::string& term : terms) {
    if (out->tokens() >= max_tokens) break;
    // The word itself (field-tagged too when the field has a tag) gets half the token's mass,
    // its trigrams share the other half.
    std::string marked = "#" + term + "#";
    std::vector<std::size_t> starts;
    for (std::size_t i = 0; i < marked.size(); i += utf8_length(static_cast<unsigned char>(marked[i]))) {
      starts.push_back(i);
    }
    starts.push_back(marked.size());
    const std::size_t code_points = starts.size() - 1;
    const std::size_t trigrams = code_points >= 3 ? code_points - 2 : 0;
    const float word_mass = trigrams > 0 ? 0.5f * weight : weight;
    if (tag != 0) {
      out->ids.push_back(feature_id('w', term, buckets));
      out->weights.push_back(word_mass * 0.5f);
      out->ids.push_back(feature_id(tag, term, buckets));
      out->weights.push_back(word_mass * 0.5f);
    } else {
      out->ids.push_back(feature_id('w', term, buckets));
      out->weights.push_back(word_mass);
    }
    for (std::size_t t = 0; t < trigrams; ++t) {
      trigram.assign(marked, starts[t], starts[t + 3] - starts[t]);
      out->ids.push_back(feature_id('t', trigram, buckets));
      out->weights.push_back(0.5f * weight / static_cast<float>(trigrams));
    }
    out->token_offsets.push_back(static_cast<std::int64_t>(out->ids.size()));
    if (options_.word_bigrams && previous != nullptr && out->tokens() < max_tokens) {
      bigram = *previous + " " + term;
      out->ids.push_back(feature_id('b', bigram, buckets));
      out->weights.push_back(weight);
      out->token_offsets.push_back(static_cast<std::int64_t>(out->ids.size()));
    }
    previous = &term;
  }
}

Status Featurizer::query(std::string_view text, std::string_view locale, Features* out) {
  out->clear();
  AISLE_ASSIGN_OR_RETURN(text::Analyzer * analyzer_for_locale, analyzer(locale));
  add_text(*analyzer_for_locale, text, 1.0f, 0, options_.max_query_tokens, out);
  return Status::ok();
}

Status Featurizer::product(const text::Document& document, Features* out) {
  out->clear();
  AISLE_ASSIGN_OR_RETURN(text::Analyzer * a, analyzer(document.locale));
  const int cap = options_.max_product_tokens;
  // Fields in order of importance, so the token cap cuts the description first.
  add_text(*a, document.title, options_.title_weight, 0, cap, out);
  add_text(*a, document.brand, options_.brand_weight, 'B', cap, out);
  add_text(*a, document.color, options_.color_weight, 'C', cap, out);
  if (!document.category.empty()) {
    // The leaf and its parent say most; the root ("Home") says little.
    std::size_t first = document.category.size() > 2 ? document.category.size() - 2 : 0;
    for (std::size_t i = first; i < document.category.size(); ++i) {
      add_text(*a, document.category[i], options_.category_weight, 'K', cap, out);
    }
  }
  if (options_.use_description) {
    add_text(*a, document.description, options_.description_weight, 0, cap, out);
    for (const std::string& bullet : document.bullets) {
      add_text(*a, bullet, options_.description_weight, 0, cap, out);
    }
  }
  return Status::ok();
}

void append_word_ids(std::string_view word, std::int64_t buckets, std::vector<std::int64_t>* ids) {
  ids->push_back(feature_id('w', word, buckets));
  std::vector<std::string_view> points{"#"};
  for (std::size_t i = 0; i < word.size();) {
    const auto lead = static_cast<unsigned char>(word[i]);
    const std::size_t len = std::min<std::size_t>(lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1, word.size() - i);
    points.push_back(word.substr(i, len));
    i += len;
  }
  points.emplace_back("#");
  std::string trigram;
  for (std::size_t i = 0; i + 2 < points.size(); ++i) {
    trigram.assign(points[i]).append(points[i + 1]).append(points[i + 2]);
    ids->push_back(feature_id('t', trigram, buckets));
  }
}

}  // namespace aisle::models
