#include "aisle/rank/result_json.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <fmt/format.h>

namespace aisle::rank {

namespace {

constexpr std::size_t kMaxAttributeRanges = 16;
constexpr std::size_t kSnippetBytes = 200;  // a description's highlighted window

std::string value_text_hint(const std::string &key) { return key == "price" ? "MIN..MAX" : "MIN..MAX or " + key + "=NUMBER"; }

}  // namespace

Status parse_filter(const std::string &text, text::Filter *filter) {
  auto equals = text.find('=');
  if (equals == std::string::npos || equals == 0 || equals + 1 == text.size()) {
    return Status::bad_input("expected KEY=VALUE, found " + text, Where("", 0, "--filter"));
  }
  std::string key = text.substr(0, equals);
  std::string value = text.substr(equals + 1);
  if (key == "brand") {
    filter->brands.push_back(value);
  } else if (key == "color") {
    filter->colors.push_back(value);
  } else if (key == "category") {
    filter->categories.push_back(value);
  } else if (key == "locale") {
    AISLE_ASSIGN_OR_RETURN(Locale locale, Locale::parse(value));
    filter->locales.push_back(locale.code());
  } else {
    // price and numeric attributes: MIN..MAX (either side may be empty) or one number.
    auto number = [&](std::string_view part) -> Result<std::optional<double>> {
      if (part.empty()) return std::optional<double>();
      auto parsed = text::numeric_value(part);
      if (!parsed) {
        return Status::bad_input("expected a number in " + key + "=" + value_text_hint(key) + ", found " + std::string(part),
                                 Where("", 0, "--filter"));
      }
      return std::optional<double>(*parsed);
    };
    // A value that is not a number (nor a range) selects an attribute value: "material=leather".
    if (key != "price" && value.find("..") == std::string::npos && !text::numeric_value(value)) {
      std::vector<std::string>& values = filter->attribute_values[key];
      if (filter->attribute_values.size() > kMaxAttributeRanges) {
        return Status::bad_input(fmt::format("at most {} attribute filters", kMaxAttributeRanges), Where("", 0, "--filter"));
      }
      values.push_back(value);
      return Status::ok();
    }
    std::optional<double> min, max;
    if (auto dots = value.find(".."); dots != std::string::npos) {
      AISLE_ASSIGN_OR_RETURN(min, number(std::string_view(value).substr(0, dots)));
      // "..<MAX": MAX itself excluded, as a price facet's bucket [MIN, MAX) counts.
      std::string_view upper = std::string_view(value).substr(dots + 2);
      const bool exclusive = !upper.empty() && upper.front() == '<';
      if (exclusive) upper.remove_prefix(1);
      AISLE_ASSIGN_OR_RETURN(max, number(upper));
      if (exclusive && !max) return Status::bad_input("expected a number after ..< in " + key + "=" + value, Where("", 0, "--filter"));
      if (exclusive) max = std::nextafter(*max, -std::numeric_limits<double>::infinity());
      if (!min && !max) return Status::bad_input("expected " + key + "=" + value_text_hint(key) + ", found " + value, Where("", 0, "--filter"));
      if (min && max && *min > *max) {
        return Status::bad_input("empty range " + key + "=" + value + " (the minimum is above the maximum)", Where("", 0, "--filter"));
      }
    } else {
      AISLE_ASSIGN_OR_RETURN(min, number(value));
      max = min;
    }
    if (key == "price") {
      filter->min_price = min;
      filter->max_price = max;
    } else {
      if (filter->attributes.size() >= kMaxAttributeRanges) {
        return Status::bad_input(fmt::format("at most {} attribute ranges", kMaxAttributeRanges), Where("", 0, "--filter"));
      }
      filter->attributes.push_back(text::AttributeRange{key, min, max});
    }
  }
  return Status::ok();
}

namespace {

void append_escaped(std::string_view text, std::string *out) {
  for (char c : text) {
    switch (c) {
      case '&': *out += "&amp;"; break;
      case '<': *out += "&lt;"; break;
      case '>': *out += "&gt;"; break;
      case '"': *out += "&quot;"; break;
      case '\'': *out += "&#39;"; break;
      default: out->push_back(c);
    }
  }
}

bool char_boundary(std::string_view text, std::size_t at) {
  return at == 0 || at >= text.size() || (static_cast<unsigned char>(text[at]) & 0xC0) != 0x80;
}

}  // namespace

std::optional<std::string> corrected_query(const text::InvertedIndex &index, std::string_view query, std::string_view locale,
                                           std::span<const text::QueryTerm> terms, std::span<const std::string> texts) {
  // misspelled term -> the terms it was expanded to
  std::vector<std::pair<std::string, std::vector<std::string>>> corrections;
  for (const text::QueryTerm &term : terms) {
    if (term.expanded_from.empty()) continue;
    auto found = std::find_if(corrections.begin(), corrections.end(), [&](const auto &c) { return c.first == term.expanded_from; });
    if (found == corrections.end()) {
      corrections.emplace_back(term.expanded_from, std::vector<std::string>{});
      found = corrections.end() - 1;
    }
    found->second.push_back(term.term);
  }
  if (corrections.empty()) return std::nullopt;
  // The catalog's words in the shown texts, analyzed once.
  std::vector<std::pair<std::string, std::vector<std::string>>> catalog_words;  // (surface, terms)
  for (const std::string &text : texts) {
    for (const text::InvertedIndex::Word &word : index.analyze_words(text, locale)) {
      catalog_words.emplace_back(text.substr(word.begin, word.end - word.begin), word.terms);
    }
  }
  std::string out;
  std::size_t at = 0;
  bool changed = false;
  for (const text::InvertedIndex::Word &word : index.analyze_words(query, locale)) {
    const auto correction = std::find_if(corrections.begin(), corrections.end(), [&](const auto &c) {
      return std::find(word.terms.begin(), word.terms.end(), c.first) != word.terms.end();
    });
    if (correction == corrections.end()) continue;
    const auto replacement = std::find_if(catalog_words.begin(), catalog_words.end(), [&](const auto &candidate) {
      return std::any_of(candidate.second.begin(), candidate.second.end(), [&](const std::string &term) {
        return std::find(correction->second.begin(), correction->second.end(), term) != correction->second.end();
      });
    });
    if (replacement == catalog_words.end()) return std::nullopt;
    std::string surface = replacement->first;
    for (char &c : surface) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    out.append(query.substr(at, word.begin - at));
    out += surface;
    at = word.end;
    changed = true;
  }
  if (!changed) return std::nullopt;
  out.append(query.substr(at));
  return out;
}

std::string highlight_html(std::string_view text, std::span<const std::pair<std::size_t, std::size_t>> marked,
                           std::size_t max_bytes) {
  std::size_t begin = 0, end = text.size();
  if (max_bytes > 0 && text.size() > max_bytes) {
    // Start a little before the first mark, at a space when one is near, else a character.
    constexpr std::size_t kLead = 40;
    if (!marked.empty() && marked.front().first > kLead) {
      begin = marked.front().first - kLead;
      const std::size_t space = text.find(' ', begin);
      if (space != std::string_view::npos && space < marked.front().first) begin = space + 1;
      while (!char_boundary(text, begin)) ++begin;
    }
    end = std::min(text.size(), begin + max_bytes);
    if (end < text.size()) {
      const std::size_t space = text.rfind(' ', end);
      if (space != std::string_view::npos && space > begin + max_bytes / 2) end = space;
      while (!char_boundary(text, end)) --end;
    }
  }
  std::string out;
  out.reserve(end - begin + 32);
  if (begin > 0) out += "…";
  std::size_t at = begin;
  for (const auto &[from, to] : marked) {
    if (to <= at || from >= end || from < at) continue;
    append_escaped(text.substr(at, from - at), &out);
    out += "<mark>";
    append_escaped(text.substr(from, std::min(to, end) - from), &out);
    out += "</mark>";
    at = std::min(to, end);
  }
  append_escaped(text.substr(at, end - at), &out);
  if (end < text.size()) out += "…";
  return out;
}

nlohmann::json layers_json(const SearchPipeline &pipeline) {
  nlohmann::json out = nlohmann::json::object();
  for (const LayerState &layer : pipeline.layers()) {
    nlohmann::json entry = {{"present", layer.present}, {"active", layer.active}, {"reason", layer.reason}};
    if (layer.verdict) entry["validation"] = layer.verdict->to_json();
    out[layer.name] = entry;
  }
  return out;
}

Result<nlohmann::json> search_result_json(const SearchPipeline &pipeline, std::string_view query,
                                          const PipelineResult &result, const PipelineOptions &options) {
  const bool use_lexical = (result.action.mask() & (retrieve::kFoundLexical | retrieve::kFoundStructured)) != 0;

  nlohmann::json out;
  out["query"] = std::string(query);
  out["strategy"] = result.strategy;
  nlohmann::json counts = nlohmann::json::object();
  for (int s = 0; s < retrieve::kNumStrategies; ++s) {
    if (result.action.uses(s))
      counts[std::string(retrieve::strategy_name(s))] = result.result_counts[static_cast<std::size_t>(s)];
  }
  out["strategy_results"] = counts;
  out["ranked"] = result.ranked;
  out["candidates"] = result.candidates;
  out["relaxed"] = result.relaxed;
  nlohmann::json hits = nlohmann::json::array();
  std::vector<std::string> texts;  // the shown listings' titles and descriptions, for "did you mean"
  for (std::size_t rank = 0; rank < result.hits.size(); ++rank) {
    const rank::PipelineHit &hit = result.hits[rank];
    AISLE_ASSIGN_OR_RETURN(auto product, pipeline.store().get_product(hit.product));
    if (product && !hit.other_locale) {
      texts.push_back(product->record.title);
      texts.push_back(product->record.description);
    }
    const rank::Provenance &p = hit.provenance;
    nlohmann::json entry = {
        {"rank", rank + 1}, {"score", hit.score}, {"found_by", retrieve::strategy_names(p.found_by)}};
    if (p.found_by & (retrieve::kFoundLexical | retrieve::kFoundStructured)) {
      entry["lexical_score"] = p.lexical_score;
      entry["lexical_rank"] = p.lexical_rank > 0 ? p.lexical_rank : p.structured_rank;
      entry["prior"] = hit.prior;
    }
    if (p.found_by & retrieve::kFoundVector) {
      entry["vector_score"] = hit.vector_score;
      entry["vector_rank"] = p.vector_rank;
    }
    if (hit.ranker_score) {
      entry["ranker_score"] = *hit.ranker_score;
      entry["rank_before_ranker"] = hit.fused_rank;
    }
    if (hit.other_locale) entry["other_locale"] = true;
    if (!result.intent.empty()) entry["intent"] = {{"agrees", hit.slot_agreements}, {"conflicts", hit.slot_conflicts}};
    if (hit.esci) {
      const auto &p_esci = *hit.esci;
      static const char *kNames[4] = {"E", "S", "C", "I"};
      const auto best = std::max_element(p_esci.begin(), p_esci.end()) - p_esci.begin();
      entry["esci"] = {{"label", kNames[best]}, {"E", p_esci[0]}, {"S", p_esci[1]}, {"C", p_esci[2]}, {"I", p_esci[3]}};
    }
    if (product) {
      entry["product_id"] = product->record.id;
      entry["locale"] = product->record.locale;
      entry["title"] = product->record.title;
      entry["brand"] = product->record.brand;
      if (product->record.price) entry["price"] = *product->record.price;
      if (!product->record.image.empty()) entry["image"] = product->record.image;
      if (options.highlight && !result.lexical.terms.empty()) {
        const text::InvertedIndex &index = *pipeline.catalog().index;
        const io::ProductRecord &record = product->record;
        nlohmann::json marks = {{"title", highlight_html(record.title, index.highlight(record.title, record.locale, result.lexical.terms))}};
        if (!record.description.empty()) {
          marks["description"] = highlight_html(
              record.description, index.highlight(record.description, record.locale, result.lexical.terms), kSnippetBytes);
        }
        entry["highlight"] = std::move(marks);
      }
      if (options.explain) {
        nlohmann::json terms = nlohmann::json::array();
        for (const auto &term :
             use_lexical ? pipeline.catalog().index->explain(retrieve::to_document(*product), result.lexical.terms)
                         : std::vector<text::TermExplanation>()) {
          nlohmann::json fields = nlohmann::json::object();
          for (int f = 0; f < text::kNumFields; ++f) {
            if (term.tf[f] == 0) continue;
            fields[std::string(text::field_name(static_cast<text::Field>(f)))] = {
                {"tf", term.tf[f]}, {"weighted_tf", term.field_contribution[f]}};
          }
          terms.push_back({{"term", term.term},
                           {"idf", term.idf},
                           {"weight", term.weight},
                           {"score", term.score},
                           {"fields", fields}});
        }
        entry["explain"] = terms;
        if (hit.ranker_score) {
          nlohmann::json contributions = nlohmann::json::array();
          for (const auto &[name, value] : hit.contributions)
            contributions.push_back({{"feature", name}, {"contribution", value}});
          entry["ranker"] = {
              {"score", *hit.ranker_score}, {"bias", hit.contribution_bias}, {"contributions", contributions}};
        }
        nlohmann::json features = nlohmann::json::object();
        for (const auto &[name, value] : hit.features) features[name] = value;
        entry["features"] = features;
      }
    }
    hits.push_back(entry);
  }
  out["results"] = hits;
  if (auto corrected = corrected_query(*pipeline.catalog().index, query, options.locale, result.lexical.terms, texts)) {
    out["did_you_mean"] = *corrected;
  }
  out["total"] = result.total;
  out["currency"] = pipeline.catalog().config.currency(options.locale);
  out["sort"] = std::string(sort_name(options.sort));
  if (!result.notice.empty()) out["notice"] = result.notice;
  if (!result.intent.empty()) out["intent"] = result.intent;
  if (options.explain) out["layers"] = layers_json(pipeline);
  nlohmann::json terms = nlohmann::json::array();
  for (const text::QueryTerm &term : result.lexical.terms) {
    nlohmann::json entry = {{"term", term.term}, {"df", term.df}, {"idf", term.idf}, {"weight", term.weight}};
    if (!term.expanded_from.empty()) {
      entry["expanded_from"] = term.expanded_from;
      entry["edits"] = term.edits;
    }
    if (!term.synonym_of.empty()) {
      entry["synonym_of"] = term.synonym_of;
      entry["synonym_phrase"] = term.synonym_phrase;
    }
    terms.push_back(entry);
  }
  out["terms"] = terms;
  nlohmann::json interpretations = nlohmann::json::array();
  for (const retrieve::Interpretation &interpretation : result.analysis.interpretations) {
    nlohmann::json slots = nlohmann::json::array();
    for (const retrieve::Slot &slot : interpretation.slots) {
      slots.push_back(
          {{"type", slot.type}, {"value", slot.value}, {"phrase", slot.phrase}, {"likelihood", slot.likelihood}});
    }
    interpretations.push_back(
        {{"likelihood", interpretation.likelihood}, {"slots", slots}, {"remainder", interpretation.remainder}});
  }
  if ((options.explain || result.action.uses(retrieve::kStructuredStrategy)) &&
      !result.analysis.interpretations.empty()) {
    out["interpretations"] = interpretations;
  }
  if (options.facets) {
    nlohmann::json facets = nlohmann::json::object();
    for (const auto &[name, values] : result.facets) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto &value : values) list.push_back({{"value", value.value}, {"count", value.count}});
      facets[name] = list;
    }
    out["facets"] = facets;
    out["matched"] = result.lexical.matched;
  }
  return out;
}

}  // namespace aisle::rank
