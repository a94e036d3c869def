#include "aisle/rank/features.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "aisle/retrieve/vector_strategy.h"

namespace aisle::rank {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

// Every feature, in schema order. learned: left out of the ablation's schema.
struct FeatureDef {
  std::string name;
  bool learned = false;     // left out without FeatureOptions::learned_text
  bool engagement = false;  // left out without FeatureOptions::engagement
};

enum F : int {
  kBm25f,
  kBm25Field0,  // + field index, 7 of them
  kCoverageField0 = kBm25Field0 + text::kNumFields,
  kCoverageAny = kCoverageField0 + text::kNumFields,
  kCoverageIdf,
  kPhraseTitle,
  kBigramsTitle,
  kPhraseDescription,
  kFirstMatchTitle,
  kCharTitleContainment,
  kCharTitleDice,
  kLastTermTitle,
  kUncoveredIdfMax,
  kTitlePrecision,
  kLastMatchTitle,
  kChar3WordMin,
  kQueryTerms,
  kQueryChars,
  kQueryHasNumber,
  kQueryMeanIdf,
  kQuSlots,
  kTitleTerms,
  kDescriptionTerms,
  kLogPopularity,
  kLogPrice,
  kQuBrand,
  kQuColor,
  kQuCategory,
  kFoundLexical,
  kFoundStructured,
  kRankLexical,
  kRankStructured,
  kLexicalScore,
  kVectorCosine,
  kFoundVector,
  kRankVector,
  kEsciExact,
  kEsciSubstitute,
  kEsciComplement,
  kEsciIrrelevant,
  kMemoryScore,
  kProductQueries,
  kProductGrade,
  kNumFeatures,
};

// Character trigrams (bytes; ASCII letters lower-cased, other ASCII punctuation and spaces one
// separator, padded): spelling-level overlap that survives "de walt" / "dewalt" and
// misspellings the analyzer keeps apart. `norm` is the caller's buffer, reused.
void trigram_text(std::string_view text, std::string* norm) {
  norm->assign(1, ' ');
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    const bool digit = u >= '0' && u <= '9', upper = u >= 'A' && u <= 'Z', lower = u >= 'a' && u <= 'z';
    if (u >= 0x80 || digit || lower) *norm += c;
    else if (upper) *norm += static_cast<char>(u - 'A' + 'a');
    else if (norm->back() != ' ') *norm += ' ';
  }
  if (norm->back() != ' ') *norm += ' ';
}

std::uint32_t trigram_at(const std::string& norm, std::size_t i) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(norm[i])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(norm[i + 1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(norm[i + 2]));
}

// The distinct trigrams of a text, sorted (the query's side, once per query).
void char_trigrams(std::string_view text, std::string* norm, std::vector<std::uint32_t>* out) {
  trigram_text(text, norm);
  out->clear();
  for (std::size_t i = 0; i + 3 <= norm->size(); ++i) out->push_back(trigram_at(*norm, i));
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

// A set of trigrams that forgets its contents in O(1) (a new stamp): the candidate's side,
// where sorting each title's trigrams cost more than every other feature together.
class TrigramSet {
 public:
  // Empties the set, sized for `n` insertions.
  void reset(std::size_t n) {
    std::size_t capacity = 64;
    while (capacity < 2 * n) capacity *= 2;
    if (capacity > keys_.size()) {
      keys_.assign(capacity, 0);
      stamps_.assign(capacity, 0);
      stamp_ = 0;
    }
    if (++stamp_ == 0) {  // wrapped: forget the old stamps for real
      std::fill(stamps_.begin(), stamps_.end(), 0);
      stamp_ = 1;
    }
  }
  // true when `key` was not in the set.
  bool insert(std::uint32_t key) {
    const std::size_t mask = keys_.size() - 1;
    for (std::size_t slot = (key * 2654435761u) & mask;; slot = (slot + 1) & mask) {
      if (stamps_[slot] != stamp_) {
        stamps_[slot] = stamp_;
        keys_[slot] = key;
        return true;
      }
      if (keys_[slot] == key) return false;
    }
  }

 private:
  std::vector<std::uint32_t> keys_, stamps_;
  std::uint32_t stamp_ = 0;
};

const std::vector<FeatureDef>& all_features() {
  static const std::vector<FeatureDef> all = [] {
  std::vector<FeatureDef> defs(kNumFeatures, FeatureDef{"", false});
  defs[kBm25f] = {"bm25f", false};
  for (int f = 0; f < text::kNumFields; ++f) {
    const std::string field(text::field_name(static_cast<text::Field>(f)));
    defs[kBm25Field0 + f] = {"bm25_" + field, false};
    defs[kCoverageField0 + f] = {"coverage_" + field, false};
  }
  defs[kCoverageAny] = {"coverage_any", false};
  defs[kCoverageIdf] = {"coverage_idf", false};
  defs[kPhraseTitle] = {"phrase_title", false};
  defs[kBigramsTitle] = {"bigrams_title", false};
  defs[kPhraseDescription] = {"phrase_description", false};
  defs[kFirstMatchTitle] = {"first_match_title", false};
  defs[kCharTitleContainment] = {"char3_title_containment", false};
  defs[kCharTitleDice] = {"char3_title_dice", false};
  defs[kLastTermTitle] = {"last_term_title", false};
  defs[kUncoveredIdfMax] = {"uncovered_idf_max", false};
  defs[kTitlePrecision] = {"title_precision", false};
  defs[kLastMatchTitle] = {"last_match_title", false};
  defs[kChar3WordMin] = {"char3_word_min", false};
  defs[kQueryTerms] = {"query_terms", false};
  defs[kQueryChars] = {"query_chars", false};
  defs[kQueryHasNumber] = {"query_has_number", false};
  defs[kQueryMeanIdf] = {"query_mean_idf", false};
  defs[kQuSlots] = {"qu_slots", false};
  defs[kTitleTerms] = {"title_terms", false};
  defs[kDescriptionTerms] = {"description_terms", false};
  defs[kLogPopularity] = {"log_popularity", false};
  defs[kLogPrice] = {"log_price", false};
  defs[kQuBrand] = {"qu_brand", false};
  defs[kQuColor] = {"qu_color", false};
  defs[kQuCategory] = {"qu_category", false};
  defs[kFoundLexical] = {"found_lexical", false};
  defs[kFoundStructured] = {"found_structured", false};
  defs[kRankLexical] = {"rank_lexical", false};
  defs[kRankStructured] = {"rank_structured", false};
  defs[kLexicalScore] = {"lexical_score", false};
  defs[kVectorCosine] = {"vector_cosine", true};
  defs[kFoundVector] = {"found_vector", true};
  defs[kRankVector] = {"rank_vector", true};
  defs[kEsciExact] = {"esci_exact", true};
  defs[kEsciSubstitute] = {"esci_substitute", true};
  defs[kEsciComplement] = {"esci_complement", true};
  defs[kEsciIrrelevant] = {"esci_irrelevant", true};
  defs[kMemoryScore] = {"memory_score", false, true};
  defs[kProductQueries] = {"product_queries", false, true};
  defs[kProductGrade] = {"product_grade", false, true};
  return defs;
  }();
  return all;
}

std::vector<int> selected(const FeatureOptions& options) {
  std::vector<int> out;
  const auto& defs = all_features();
  for (int i = 0; i < kNumFeatures; ++i) {
    const FeatureDef& def = defs[static_cast<std::size_t>(i)];
    if ((!def.learned || options.learned_text) && (!def.engagement || options.engagement)) out.push_back(i);
  }
  return out;
}

// Case-insensitive ASCII comparison after trimming; the QU slot values are display forms.
bool same_value(std::string_view a, std::string_view b) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  };
  a = trim(a);
  b = trim(b);
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// +1 the document has the slot's value, -1 another value, 0 none; missing without the slot.
float agreement(const std::optional<retrieve::Interpretation>& interpretation, std::string_view type,
                const text::Document& document) {
  if (!interpretation) return kMissing;
  for (const retrieve::Slot& slot : interpretation->slots) {
    if (slot.type != type) continue;
    if (type == "category") {
      if (document.category.empty()) return 0.0f;
      // The slot value is a path ("Shoes > Running") or one level of it.
      const std::string path = text::category_path_string(document.category);
      if (same_value(path, slot.value)) return 1.0f;
      for (const std::string& level : document.category) {
        if (same_value(level, slot.value)) return 1.0f;
      }
      return path.find(slot.value) != std::string::npos ? 1.0f : -1.0f;
    }
    const std::string& value = type == "brand" ? document.brand : document.color;
    if (value.empty()) return 0.0f;
    return same_value(value, slot.value) ? 1.0f : -1.0f;
  }
  return kMissing;
}

float rank_or_missing(int rank) { return rank > 0 ? static_cast<float>(rank) : kMissing; }

}  // namespace

nlohmann::json FeatureSchema::to_json() const { return {{"version", version}, {"names", names}}; }

Result<FeatureSchema> FeatureSchema::from_json(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("version") || !json["version"].is_number_integer() ||
      !json.contains("names") || !json["names"].is_array()) {
    return Status::corruption("feature schema: expected {\"version\": int, \"names\": [...]}");
  }
  FeatureSchema schema;
  schema.version = json["version"].get<int>();
  for (const auto& name : json["names"]) {
    if (!name.is_string()) return Status::corruption("feature schema: a name is not a string");
    schema.names.push_back(name.get<std::string>());
  }
  return schema;
}

FeatureSchema feature_schema(const FeatureOptions& options) {
  FeatureSchema schema;
  const auto& defs = all_features();
  for (int i : selected(options)) schema.names.emplace_back(defs[static_cast<std::size_t>(i)].name);
  return schema;
}

FeatureExtractor::FeatureExtractor(const text::InvertedIndex& index, FeatureOptions options)
    : index_(index), options_(options), schema_(feature_schema(options)), columns_(selected(options)) {}

Status FeatureExtractor::extract(const QueryContext& query, std::span<const Candidate> candidates,
                                 std::vector<float>* rows) const {
  const std::size_t width = columns_.size();
  const float k1 = index_.options().bm25f.k1;

  // Query features and the map from an evaluated term to the query term it stands for.
  std::vector<std::size_t> original;  // per evaluated term: index of its query term
  std::vector<std::string> query_terms;
  std::vector<float> query_idf;
  for (const text::QueryTerm& term : query.terms) {
    // A typo correction or a synonym counts for (the first of) the query words it stands for.
    const std::string base = text::query_words(term).front();
    auto found = std::find(query_terms.begin(), query_terms.end(), base);
    if (found == query_terms.end()) {
      query_terms.push_back(base);
      query_idf.push_back(term.idf);
      found = query_terms.end() - 1;
    } else if (term.expanded_from.empty() && term.synonym_of.empty()) {
      query_idf[static_cast<std::size_t>(found - query_terms.begin())] = term.idf;
    }
    original.push_back(static_cast<std::size_t>(found - query_terms.begin()));
  }
  const std::size_t n_query = query_terms.size();
  double idf_sum = 0;
  for (float idf : query_idf) idf_sum += idf;
  bool has_number = false;
  for (char c : query.text) has_number = has_number || std::isdigit(static_cast<unsigned char>(c));
  // Code points, not bytes.
  int query_chars = 0;
  for (char c : query.text) query_chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;

  // The query's trigrams and, for each query word the analyzer keeps (stop words give no
  // term), the word's own: the worst-spelled or least-present word decides char3_word_min.
  // All of them as one sorted key list; a title marks the keys it holds.
  std::string trigram_buffer;
  std::vector<std::uint32_t> query_trigrams, keys;
  char_trigrams(query.text, &trigram_buffer, &query_trigrams);
  std::vector<std::vector<std::uint32_t>> word_trigrams;
  for (const text::InvertedIndex::Word& word : index_.analyze_words(query.text, query.locale)) {
    if (word.terms.empty()) continue;
    word_trigrams.emplace_back();
    char_trigrams(std::string_view(query.text).substr(word.begin, word.end - word.begin), &trigram_buffer, &word_trigrams.back());
    if (word_trigrams.back().empty()) word_trigrams.pop_back();
  }
  keys = query_trigrams;
  for (const auto& word : word_trigrams) keys.insert(keys.end(), word.begin(), word.end());
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  auto key_index = [&](std::uint32_t trigram) {
    return static_cast<std::size_t>(std::lower_bound(keys.begin(), keys.end(), trigram) - keys.begin());
  };
  std::vector<std::size_t> query_keys;
  for (std::uint32_t trigram : query_trigrams) query_keys.push_back(key_index(trigram));
  std::vector<std::vector<std::size_t>> word_keys;
  for (const auto& word : word_trigrams) {
    word_keys.emplace_back();
    for (std::uint32_t trigram : word) word_keys.back().push_back(key_index(trigram));
  }
  // A 4,096-bit filter of the keys: most of a title's trigrams are no key, and the filter
  // says so without a search.
  std::array<std::uint64_t, 64> key_filter{};
  auto filter_bit = [](std::uint32_t trigram) { return (trigram * 2654435761u) >> 20; };
  for (std::uint32_t key : keys) key_filter[filter_bit(key) >> 6] |= std::uint64_t{1} << (filter_bit(key) & 63);
  TrigramSet title_trigrams;
  std::vector<std::uint32_t> key_seen(keys.size(), 0);  // the candidate number that saw the key
  std::uint32_t candidate_number = 0;

  std::array<float, kNumFeatures> all{};
  std::vector<std::uint8_t> covered(n_query * text::kNumFields);
  std::vector<int> in_title;  // per title position: its query term or -1
  rows->reserve(rows->size() + candidates.size() * width);
  for (const Candidate& candidate : candidates) {
    if (candidate.document == nullptr) return Status::bad_input("ranking candidate without a document");
    const text::Document& document = *candidate.document;
    all.fill(kMissing);
    const text::DocumentMatch match = index_.match(document, query.terms);

    float total = 0;
    std::array<float, text::kNumFields> per_field{};
    std::fill(covered.begin(), covered.end(), 0);
    for (std::size_t t = 0; t < match.terms.size(); ++t) {
      const text::TermExplanation& term = match.terms[t];
      total += term.score;
      for (int f = 0; f < text::kNumFields; ++f) {
        const float c = term.field_contribution[f];
        if (c > 0) per_field[f] += term.weight * term.idf * c / (k1 + c);
        if (term.tf[f] > 0) covered[original[t] * text::kNumFields + static_cast<std::size_t>(f)] = 1;
      }
    }
    all[kBm25f] = total;
    int any = 0;
    double idf_covered = 0;
    float uncovered_idf_max = 0;
    for (std::size_t q = 0; q < n_query; ++q) {
      bool hit = false;
      for (int f = 0; f < text::kNumFields; ++f) hit = hit || covered[q * text::kNumFields + static_cast<std::size_t>(f)];
      any += hit ? 1 : 0;
      idf_covered += hit ? query_idf[q] : 0.0;
      if (!hit) uncovered_idf_max = std::max(uncovered_idf_max, query_idf[q]);
    }
    // The rarest query word the product lacks: a missing "cadmium" says more than a missing
    // "pack".
    all[kUncoveredIdfMax] = uncovered_idf_max;
    for (int f = 0; f < text::kNumFields; ++f) {
      all[kBm25Field0 + f] = per_field[f];
      int count = 0;
      for (std::size_t q = 0; q < n_query; ++q) count += covered[q * text::kNumFields + static_cast<std::size_t>(f)];
      all[kCoverageField0 + f] = n_query ? static_cast<float>(count) / static_cast<float>(n_query) : 0.0f;
    }
    all[kCoverageAny] = n_query ? static_cast<float>(any) / static_cast<float>(n_query) : 0.0f;
    // The query's last term is most often its head noun, the kind of product asked for.
    if (n_query > 0) {
      all[kLastTermTitle] = covered[(n_query - 1) * text::kNumFields + static_cast<std::size_t>(text::Field::kTitle)] ? 1.0f : 0.0f;
    }
    all[kCoverageIdf] = idf_sum > 0 ? static_cast<float>(idf_covered / idf_sum) : 0.0f;

    // Order: the query's terms in sequence in the title (phrase), query bigrams found adjacent
    // and in order, and how early the first match comes.
    auto sequence_of = [&](text::Field field) {
      in_title.clear();
      for (std::int16_t t : match.sequence[static_cast<int>(field)]) {
        in_title.push_back(t < 0 ? -1 : static_cast<int>(original[static_cast<std::size_t>(t)]));
      }
      return in_title;
    };
    auto phrase_in = [&](const std::vector<int>& sequence) {
      if (n_query < 2) return n_query == 1 && std::find(sequence.begin(), sequence.end(), 0) != sequence.end();
      for (std::size_t start = 0; start + n_query <= sequence.size(); ++start) {
        bool all_match = true;
        for (std::size_t q = 0; q < n_query && all_match; ++q) all_match = sequence[start + q] == static_cast<int>(q);
        if (all_match) return true;
      }
      return false;
    };
    {
      const std::vector<int> title = sequence_of(text::Field::kTitle);
      all[kPhraseTitle] = phrase_in(title) ? 1.0f : 0.0f;
      int bigrams = 0;
      for (std::size_t q = 0; q + 1 < n_query; ++q) {
        for (std::size_t i = 0; i + 1 < title.size(); ++i) {
          if (title[i] == static_cast<int>(q) && title[i + 1] == static_cast<int>(q + 1)) {
            ++bigrams;
            break;
          }
        }
      }
      all[kBigramsTitle] = n_query > 1 ? static_cast<float>(bigrams) / static_cast<float>(n_query - 1) : 0.0f;
      auto first = std::find_if(title.begin(), title.end(), [](int t) { return t >= 0; });
      all[kFirstMatchTitle] = first == title.end() ? kMissing : static_cast<float>(first - title.begin());
      // How much of the title is about the query, and how far towards its end (where a
      // title names the kind of product) the query reaches.
      if (!title.empty()) {
        const auto matched = std::count_if(title.begin(), title.end(), [](int t) { return t >= 0; });
        all[kTitlePrecision] = static_cast<float>(matched) / static_cast<float>(title.size());
        auto last = std::find_if(title.rbegin(), title.rend(), [](int t) { return t >= 0; });
        if (last != title.rend()) {
          all[kLastMatchTitle] = static_cast<float>(title.rend() - last) / static_cast<float>(title.size());
        }
      }
    }
    all[kPhraseDescription] = phrase_in(sequence_of(text::Field::kDescription)) ? 1.0f : 0.0f;
    {
      trigram_text(document.title, &trigram_buffer);
      const std::size_t positions = trigram_buffer.size() >= 3 ? trigram_buffer.size() - 2 : 0;
      title_trigrams.reset(positions);
      ++candidate_number;
      std::size_t title_distinct = 0;
      for (std::size_t i = 0; i < positions; ++i) {
        const std::uint32_t trigram = trigram_at(trigram_buffer, i);
        if (!title_trigrams.insert(trigram)) continue;
        ++title_distinct;
        if (!(key_filter[filter_bit(trigram) >> 6] >> (filter_bit(trigram) & 63) & 1)) continue;
        auto key = std::lower_bound(keys.begin(), keys.end(), trigram);
        if (key != keys.end() && *key == trigram) key_seen[static_cast<std::size_t>(key - keys.begin())] = candidate_number;
      }
      auto seen = [&](const std::vector<std::size_t>& indexes) {
        std::size_t count = 0;
        for (std::size_t k : indexes) count += key_seen[k] == candidate_number ? 1 : 0;
        return count;
      };
      const std::size_t shared = seen(query_keys);
      if (!word_keys.empty()) {
        float word_min = 1;
        for (const auto& word : word_keys) {
          word_min = std::min(word_min, static_cast<float>(seen(word)) / static_cast<float>(word.size()));
        }
        all[kChar3WordMin] = word_min;
      }
      const std::size_t sizes = query_trigrams.size() + title_distinct;
      all[kCharTitleContainment] = query_trigrams.empty() ? 0.0f : static_cast<float>(shared) / static_cast<float>(query_trigrams.size());
      all[kCharTitleDice] = sizes == 0 ? 0.0f : 2.0f * static_cast<float>(shared) / static_cast<float>(sizes);
    }

    all[kQueryTerms] = static_cast<float>(n_query);
    all[kQueryChars] = static_cast<float>(query_chars);
    all[kQueryHasNumber] = has_number ? 1.0f : 0.0f;
    all[kQueryMeanIdf] = n_query ? static_cast<float>(idf_sum / static_cast<double>(n_query)) : 0.0f;
    all[kQuSlots] = query.interpretation ? static_cast<float>(query.interpretation->slots.size()) : 0.0f;
    all[kTitleTerms] = static_cast<float>(match.length[static_cast<int>(text::Field::kTitle)]);
    all[kDescriptionTerms] = static_cast<float>(match.length[static_cast<int>(text::Field::kDescription)]);
    if (document.popularity) all[kLogPopularity] = static_cast<float>(std::log1p(std::max(0.0, *document.popularity)));
    if (document.price) all[kLogPrice] = static_cast<float>(std::log1p(std::max(0.0, *document.price)));
    all[kQuBrand] = agreement(query.interpretation, "brand", document);
    all[kQuColor] = agreement(query.interpretation, "color", document);
    all[kQuCategory] = agreement(query.interpretation, "category", document);

    const Provenance& p = candidate.provenance;
    all[kFoundLexical] = (p.found_by & retrieve::kFoundLexical) ? 1.0f : 0.0f;
    all[kFoundStructured] = (p.found_by & retrieve::kFoundStructured) ? 1.0f : 0.0f;
    all[kFoundVector] = (p.found_by & retrieve::kFoundVector) ? 1.0f : 0.0f;
    all[kRankLexical] = rank_or_missing(p.lexical_rank);
    all[kRankStructured] = rank_or_missing(p.structured_rank);
    all[kRankVector] = rank_or_missing(p.vector_rank);
    if (p.found_by & (retrieve::kFoundLexical | retrieve::kFoundStructured)) all[kLexicalScore] = p.lexical_score;

    if (!query.vector.empty() && !candidate.vector.empty()) {
      if (candidate.vector.size() != query.vector.size()) {
        return Status::bad_input("candidate " + document.external_id + ": vector of " +
                                 std::to_string(candidate.vector.size()) + " dims, the query's has " +
                                 std::to_string(query.vector.size()));
      }
      float dot = 0;
      for (std::size_t i = 0; i < query.vector.size(); ++i) dot += query.vector[i] * candidate.vector[i];
      all[kVectorCosine] = dot;
    }
    if (candidate.esci) {
      for (int c = 0; c < 4; ++c) all[kEsciExact + c] = (*candidate.esci)[static_cast<std::size_t>(c)];
    }
    if (candidate.memory_score) all[kMemoryScore] = *candidate.memory_score;
    if (candidate.product_queries) all[kProductQueries] = std::log1p(std::max(0.0f, *candidate.product_queries));
    if (candidate.product_grade) all[kProductGrade] = *candidate.product_grade;

    for (int column : columns_) rows->push_back(all[static_cast<std::size_t>(column)]);
  }
  return Status::ok();
}

}  // namespace aisle::rank
