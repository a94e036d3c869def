#include "aisle/text/analyzer.h"

#include <algorithm>
#include <array>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <libstemmer.h>
#include <mecab.h>
#include <unicode/brkiter.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include "aisle/core/locale.h"
#include "stop_words.h"

namespace aisle::text {
namespace {

struct StemmerName {
  std::string_view locale;
  const char* algorithm;
};
constexpr StemmerName kStemmers[] = {
    {"da", "danish"},  {"de", "german"},     {"en", "english"}, {"es", "spanish"},
    {"fr", "french"},  {"it", "italian"},    {"nl", "dutch"},   {"pt", "portuguese"},
    {"ru", "russian"}, {"sv", "swedish"},    {"tr", "turkish"}};

const char* stemmer_algorithm(std::string_view locale) {
  for (const StemmerName& entry : kStemmers) {
    if (entry.locale == locale) return entry.algorithm;
  }
  return nullptr;
}

// Units of measure and their canonical spelling. A number followed by one of these (joined,
// hyphenated or after a space) also gives the measure token number + canonical unit.
const std::unordered_map<std::string_view, std::string_view>& unit_table() {
  static const auto* table = new std::unordered_map<std::string_view, std::string_view>{
      {"in", "in"},       {"inch", "in"},     {"inches", "in"},   {"ft", "ft"},
      {"feet", "ft"},     {"foot", "ft"},     {"yd", "yd"},       {"yard", "yd"},
      {"yards", "yd"},    {"mm", "mm"},       {"cm", "cm"},       {"m", "m"},
      {"km", "km"},       {"gal", "gal"},     {"gallon", "gal"},  {"gallons", "gal"},
      {"qt", "qt"},       {"quart", "qt"},    {"oz", "oz"},       {"ounce", "oz"},
      {"ounces", "oz"},   {"lb", "lb"},       {"lbs", "lb"},      {"pound", "lb"},
      {"pounds", "lb"},   {"kg", "kg"},       {"g", "g"},         {"mg", "mg"},
      {"ml", "ml"},       {"l", "l"},         {"liter", "l"},     {"litre", "l"},
      {"w", "w"},         {"watt", "w"},      {"watts", "w"},     {"kw", "kw"},
      {"v", "v"},         {"volt", "v"},      {"volts", "v"},     {"amp", "a"},
      {"amps", "a"},      {"ah", "ah"},       {"mah", "mah"},     {"kb", "kb"},
      {"mb", "mb"},       {"gb", "gb"},       {"tb", "tb"},       {"hz", "hz"},
      {"khz", "khz"},     {"mhz", "mhz"},     {"ghz", "ghz"},     {"gauge", "gauge"},
      {"ga", "gauge"},    {"pk", "pack"},     {"pack", "pack"},   {"pc", "pc"},
      {"pcs", "pc"},      {"piece", "pc"},    {"pieces", "pc"},   {"btu", "btu"},
      {"sq", "sq"},       {"cu", "cu"},       {"mp", "mp"},
      {"k", "k"},         {"p", "p"},         {"mil", "mil"},     {"grit", "grit"},
      {"psi", "psi"},     {"rpm", "rpm"},     {"lumen", "lm"},    {"lumens", "lm"},
      {"lm", "lm"},       {"ct", "ct"},       {"count", "ct"}};
  return *table;
}

std::string_view canonical_unit(std::string_view word) {
  const auto& table = unit_table();
  auto found = table.find(word);
  return found == table.end() ? std::string_view() : found->second;
}

bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// A number: digits with single '.', ',' or '/' between digits ("1.5", "1,000", "3/4"), or a
// mixed number "1-1/2".
bool is_number(std::string_view word) {
  if (word.empty() || !is_ascii_digit(word.front()) || !is_ascii_digit(word.back())) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    if (is_ascii_digit(c)) continue;
    if ((c == '.' || c == ',' || c == '/' || c == '-') && i + 1 < word.size() &&
        is_ascii_digit(word[i + 1]) && is_ascii_digit(word[i - 1])) {
      continue;
    }
    return false;
  }
  return true;
}

bool has_digit(std::string_view word) {
  return std::any_of(word.begin(), word.end(), is_ascii_digit);
}

// Splits "rtx3080" into {"rtx", "3080"}: maximal runs of digits and of non-digits.
std::vector<std::string_view> split_letters_digits(std::string_view word) {
  std::vector<std::string_view> pieces;
  std::size_t start = 0;
  for (std::size_t i = 1; i <= word.size(); ++i) {
    if (i == word.size() || is_ascii_digit(word[i]) != is_ascii_digit(word[i - 1])) {
      pieces.push_back(word.substr(start, i - start));
      start = i;
    }
  }
  return pieces;
}

bool is_joiner(std::string_view gap) {
  return gap == "-" || gap == "/" || gap == "\u2010" || gap == "\u2011" || gap == "\u2013";
}

bool is_space_only(std::string_view gap) {
  return !gap.empty() && std::all_of(gap.begin(), gap.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  });
}

// A segmented word and the text between it and the previous word.
struct Word {
  std::string text;
  std::string gap_before;
};

}  // namespace

class Analyzer::Impl {
 public:
  std::string locale;
  AnalyzerOptions options;
  const icu::Normalizer2* nfkc_casefold = nullptr;
  const icu::Normalizer2* nfd = nullptr;
  const icu::Normalizer2* nfc = nullptr;
  std::unique_ptr<icu::BreakIterator> words;
  sb_stemmer* stemmer = nullptr;
  MeCab::Model* mecab_model = nullptr;
  MeCab::Tagger* mecab_tagger = nullptr;
  MeCab::Lattice* mecab_lattice = nullptr;
  std::unordered_set<std::string_view> stops;
  std::vector<std::string> custom_stops;  // owns the words of a stop_word_lists entry
  std::unordered_map<std::string, std::string> word_cache;  // folded word -> final term

  ~Impl() {
    if (stemmer != nullptr) sb_stemmer_delete(stemmer);
    delete mecab_lattice;
    delete mecab_tagger;
    delete mecab_model;
  }

  std::string case_fold(std::string_view text) {
    std::string out;
    if (is_ascii(text)) {
      out.assign(text);
      for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      return out;
    }
    UErrorCode error = U_ZERO_ERROR;
    icu::UnicodeString folded = nfkc_casefold->normalize(
        icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size()))),
        error);
    if (U_FAILURE(error)) return std::string(text);
    folded.toUTF8String(out);
    return out;
  }

  // Removes non-spacing marks that sit on Latin, Greek or Cyrillic letters.
  std::string fold_accents(std::string_view term) {
    if (!options.fold_accents || is_ascii(term)) return std::string(term);
    UErrorCode error = U_ZERO_ERROR;
    icu::UnicodeString decomposed = nfd->normalize(
        icu::UnicodeString::fromUTF8(icu::StringPiece(term.data(), static_cast<int32_t>(term.size()))),
        error);
    if (U_FAILURE(error)) return std::string(term);
    icu::UnicodeString kept;
    UScriptCode base_script = USCRIPT_COMMON;
    for (int32_t i = 0; i < decomposed.length();) {
      UChar32 c = decomposed.char32At(i);
      i += U16_LENGTH(c);
      if (u_charType(c) == U_NON_SPACING_MARK) {
        if (base_script == USCRIPT_LATIN || base_script == USCRIPT_GREEK ||
            base_script == USCRIPT_CYRILLIC) {
          continue;
        }
      } else {
        UErrorCode script_error = U_ZERO_ERROR;
        base_script = uscript_getScript(c, &script_error);
      }
      kept.append(c);
    }
    icu::UnicodeString composed = nfc->normalize(kept, error);
    std::string out;
    composed.toUTF8String(out);
    return out;
  }

  std::string stem(std::string_view word) {
    if (stemmer == nullptr || !options.stem) return std::string(word);
    const sb_symbol* stemmed = sb_stemmer_stem(
        stemmer, reinterpret_cast<const sb_symbol*>(word.data()), static_cast<int>(word.size()));
    if (stemmed == nullptr) return std::string(word);  // out of memory in libstemmer
    return std::string(reinterpret_cast<const char*>(stemmed),
                       static_cast<std::size_t>(sb_stemmer_length(stemmer)));
  }

  // A plain word: stop words dropped, then stemmed and accent-folded (cached: vocabularies
  // are Zipfian, so most words are seen before).
  void emit_word(std::string_view word, std::uint32_t position, TokenKind kind,
                 std::vector<Token>* out) {
    if (options.stop_words && stops.contains(word)) return;
    auto cached = word_cache.find(std::string(word));
    if (cached == word_cache.end()) {
      if (word_cache.size() > 500000) word_cache.clear();
      cached = word_cache.emplace(std::string(word), fold_accents(stem(word))).first;
    }
    if (cached->second.empty()) return;
    out->push_back(Token{cached->second, kind, position});
  }

  void emit(std::string term, TokenKind kind, std::uint32_t position, std::vector<Token>* out) {
    if (term.empty()) return;
    if (!is_ascii(term)) term = fold_accents(term);
    out->push_back(Token{std::move(term), kind, position});
  }

  // Applies the product-search token rules to a segmented text.
  void apply_rules(const std::vector<Word>& words_in, std::vector<Token>* out) {
    std::uint32_t position = 0;
    std::size_t i = 0;
    while (i < words_in.size()) {
      // A run: words joined by a single hyphen or slash ("12-gauge", "SC-141", "1-1/2").
      std::size_t end = i + 1;
      while (end < words_in.size() && is_joiner(words_in[end].gap_before)) ++end;
      std::vector<std::string> parts;
      for (std::size_t j = i; j < end; ++j) {
        const std::string& text = words_in[j].text;
        // Fractions and mixed numbers stay together: "1-1/2" is one number.
        if (!parts.empty() && is_number(parts.back()) && is_number(text) &&
            (words_in[j].gap_before == "/" ||
             (words_in[j].gap_before == "-" && j + 1 < end && words_in[j + 1].gap_before == "/"))) {
          parts.back() += words_in[j].gap_before == "/" ? "/" : "-";
          parts.back() += text;
        } else if (!parts.empty() && is_number(parts.back()) && words_in[j].gap_before == "/" &&
                   has_digit(text) && is_ascii_digit(text.front())) {
          // "3/4in": ICU splits at the slash, leaving "4in"; rejoin the fraction.
          std::vector<std::string_view> pieces = split_letters_digits(text);
          parts.back() += "/";
          parts.back() += pieces.front();
          for (std::size_t piece = 1; piece < pieces.size(); ++piece) parts.emplace_back(pieces[piece]);
        } else {
          parts.push_back(text);
        }
      }
      // A unit word right after the run (after spaces, or a quote mark as inches/feet).
      std::string_view next_unit;
      if (end < words_in.size()) {
        const Word& next = words_in[end];
        if (is_space_only(next.gap_before)) next_unit = canonical_unit(next.text);
      }
      if (next_unit.empty()) {
        std::string_view after = end < words_in.size() ? std::string_view(words_in[end].gap_before)
                                                       : std::string_view(trailing_gap_);
        if (!after.empty() && after.front() == '"') next_unit = "in";
        if (!after.empty() && after.front() == '\'') next_unit = "ft";
      }
      emit_run(parts, next_unit, position, out);
      ++position;
      i = end;
    }
  }

  void emit_run(const std::vector<std::string>& parts, std::string_view next_unit,
                std::uint32_t position, std::vector<Token>* out) {
    if (parts.size() == 1) {
      const std::string& word = parts.front();
      if (is_number(word)) {
        emit(word, TokenKind::kNumber, position, out);
        if (!next_unit.empty()) emit(word + std::string(next_unit), TokenKind::kMeasure, position, out);
        return;
      }
      if (!has_digit(word)) {
        emit_word(word, position, TokenKind::kWord, out);
        return;
      }
      std::vector<std::string_view> pieces = split_letters_digits(word);
      if (pieces.size() == 2 && is_number(pieces[0])) {
        std::string_view unit = canonical_unit(pieces[1]);
        if (!unit.empty()) {  // "1tb", "12v", "3in"
          std::string number(pieces[0]);
          emit(number + std::string(unit), TokenKind::kMeasure, position, out);
          emit(number, TokenKind::kPart, position, out);
          emit(std::string(unit), TokenKind::kPart, position, out);
          return;
        }
      }
      emit(word, TokenKind::kModel, position, out);
      for (std::string_view piece : pieces) emit(std::string(piece), TokenKind::kPart, position, out);
      return;
    }
    // Several parts. A number then a unit: "12-gauge", "3/4-in".
    if (parts.size() == 2 && is_number(parts[0])) {
      std::string_view unit = canonical_unit(parts[1]);
      if (!unit.empty()) {
        emit(parts[0] + std::string(unit), TokenKind::kMeasure, position, out);
        emit(parts[0], TokenKind::kNumber, position, out);
        emit(std::string(unit), TokenKind::kPart, position, out);
        return;
      }
    }
    std::string whole;
    bool model = false;
    for (const std::string& part : parts) {
      whole += part;
      model = model || has_digit(part);
    }
    emit(whole, TokenKind::kModel, position, out);
    for (const std::string& part : parts) {
      if (model || has_digit(part)) {
        emit(part, TokenKind::kPart, position, out);
      } else {
        emit_word(part, position, TokenKind::kPart, out);
      }
    }
    if (model && is_number(parts.back()) && !next_unit.empty()) {
      emit(parts.back() + std::string(next_unit), TokenKind::kMeasure, position, out);
    }
  }

  void segment_icu(const std::string& folded, std::vector<Word>* out) {
    icu::UnicodeString text = icu::UnicodeString::fromUTF8(
        icu::StringPiece(folded.data(), static_cast<int32_t>(folded.size())));
    words->setText(text);
    int32_t previous_end = 0;
    int32_t start = words->first();
    for (int32_t end = words->next(); end != icu::BreakIterator::DONE; start = end, end = words->next()) {
      if (words->getRuleStatus() < UBRK_WORD_NONE_LIMIT) continue;
      Word word;
      text.tempSubStringBetween(previous_end, start).toUTF8String(word.gap_before);
      text.tempSubStringBetween(start, end).toUTF8String(word.text);
      out->push_back(std::move(word));
      previous_end = end;
    }
    trailing_gap_.clear();
    text.tempSubStringBetween(previous_end).toUTF8String(trailing_gap_);
  }

  void segment_mecab(const std::string& folded, std::vector<Word>* out) {
    mecab_lattice->set_sentence(folded.c_str());
    trailing_gap_.clear();
    if (!mecab_tagger->parse(mecab_lattice)) return;
    const char* sentence = mecab_lattice->sentence();
    std::size_t previous_end = 0;
    for (const MeCab::Node* node = mecab_lattice->bos_node(); node != nullptr; node = node->next) {
      if (node->stat == MECAB_BOS_NODE || node->stat == MECAB_EOS_NODE || node->length == 0) continue;
      std::string_view feature(node->feature);
      std::string_view pos = feature.substr(0, feature.find(','));
      auto start = static_cast<std::size_t>(node->surface - sentence);
      std::size_t end = start + node->length;
      // Particles, auxiliary verbs and symbols are Japanese's function words.
      if (pos == "助詞" || pos == "助動詞" || pos == "記号") continue;
      Word word;
      word.gap_before.assign(sentence + previous_end, sentence + start);
      word.text.assign(sentence + start, sentence + end);
      out->push_back(std::move(word));
      previous_end = end;
    }
  }

  std::string trailing_gap_;
};

Result<std::unique_ptr<Analyzer>> Analyzer::create(std::string_view locale_code,
                                                   AnalyzerOptions options) {
  AISLE_ASSIGN_OR_RETURN(Locale locale, Locale::parse(locale_code));
  auto impl = std::make_unique<Impl>();
  impl->locale = locale.code();
  impl->options = std::move(options);
  UErrorCode error = U_ZERO_ERROR;
  impl->nfkc_casefold = icu::Normalizer2::getNFKCCasefoldInstance(error);
  impl->nfd = icu::Normalizer2::getNFDInstance(error);
  impl->nfc = icu::Normalizer2::getNFCInstance(error);
  if (U_FAILURE(error)) {
    return Status::internal(std::string("ICU normalizer data unavailable: ") + u_errorName(error));
  }
  if (impl->locale == "ja") {
    std::string arguments = impl->options.mecab_dictionary.empty()
                                ? std::string()
                                : "-d " + impl->options.mecab_dictionary;
    impl->mecab_model = MeCab::createModel(arguments.c_str());
    if (impl->mecab_model == nullptr) {
      return Status::internal(std::string("MeCab cannot load its dictionary (install mecab-ipadic-utf8): ") +
                              MeCab::getLastError());
    }
    impl->mecab_tagger = impl->mecab_model->createTagger();
    impl->mecab_lattice = impl->mecab_model->createLattice();
  } else {
    impl->words.reset(icu::BreakIterator::createWordInstance(icu::Locale(impl->locale.c_str()), error));
    if (U_FAILURE(error) || impl->words == nullptr) {
      return Status::internal(std::string("ICU word break iterator unavailable: ") + u_errorName(error));
    }
  }
  if (const char* algorithm = stemmer_algorithm(impl->locale)) {
    impl->stemmer = sb_stemmer_new(algorithm, "UTF_8");
    if (impl->stemmer == nullptr) {
      return Status::internal(std::string("libstemmer has no stemmer ") + algorithm);
    }
  }
  if (auto custom = impl->options.stop_word_lists.find(impl->locale); custom != impl->options.stop_word_lists.end()) {
    for (const std::string& word : custom->second) impl->custom_stops.push_back(impl->case_fold(word));
    for (const std::string& word : impl->custom_stops) impl->stops.insert(word);
  } else {
    for (std::string_view word : stop_words(impl->locale)) impl->stops.insert(word);
  }
  return std::unique_ptr<Analyzer>(new Analyzer(std::move(impl)));
}

Analyzer::Analyzer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Analyzer::~Analyzer() = default;

const std::string& Analyzer::locale() const { return impl_->locale; }

void Analyzer::analyze(std::string_view text, std::vector<Token>* out) {
  if (text.empty()) return;  // most fields of most catalogs: skip the segmenter's set-up
  std::string folded = impl_->case_fold(text);
  std::vector<Word> segmented;
  if (impl_->mecab_tagger != nullptr) {
    impl_->segment_mecab(folded, &segmented);
  } else {
    impl_->segment_icu(folded, &segmented);
  }
  impl_->apply_rules(segmented, out);
}

std::vector<std::string> Analyzer::terms(std::string_view text) {
  std::vector<Token> tokens;
  analyze(text, &tokens);
  std::vector<std::string> out;
  out.reserve(tokens.size());
  for (Token& token : tokens) out.push_back(std::move(token.term));
  return out;
}

std::vector<std::pair<std::size_t, std::size_t>> Analyzer::word_spans(std::string_view text) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  if (text.empty()) return out;
  if (impl_->mecab_tagger != nullptr) {
    const std::string sentence_text(text);
    impl_->mecab_lattice->set_sentence(sentence_text.c_str());
    if (!impl_->mecab_tagger->parse(impl_->mecab_lattice)) return out;
    const char* sentence = impl_->mecab_lattice->sentence();
    for (const MeCab::Node* node = impl_->mecab_lattice->bos_node(); node != nullptr; node = node->next) {
      if (node->stat == MECAB_BOS_NODE || node->stat == MECAB_EOS_NODE || node->length == 0) continue;
      const auto start = static_cast<std::size_t>(node->surface - sentence);
      out.emplace_back(start, start + node->length);
    }
    return out;
  }
  // UTF-16 for ICU, decoded here so that every UTF-16 unit knows its byte offset (an invalid
  // byte becomes one U+FFFD, a word boundary of its own).
  icu::UnicodeString units;
  std::vector<std::size_t> byte_of;  // per UTF-16 unit, plus the end
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());
  const auto length = static_cast<int32_t>(text.size());
  for (int32_t at = 0; at < length;) {
    const int32_t begin = at;
    UChar32 c = 0;
    U8_NEXT(bytes, at, length, c);
    if (c < 0) c = 0xFFFD;
    const int32_t before = units.length();
    units.append(c);
    for (int32_t u = before; u < units.length(); ++u) byte_of.push_back(static_cast<std::size_t>(begin));
  }
  byte_of.push_back(text.size());
  impl_->words->setText(units);
  int32_t start = impl_->words->first();
  for (int32_t end = impl_->words->next(); end != icu::BreakIterator::DONE; start = end, end = impl_->words->next()) {
    if (impl_->words->getRuleStatus() < UBRK_WORD_NONE_LIMIT) continue;
    out.emplace_back(byte_of[static_cast<std::size_t>(start)], byte_of[static_cast<std::size_t>(end)]);
  }
  return out;
}

std::string Analyzer::normalize(std::string_view text) {
  std::string folded = impl_->fold_accents(impl_->case_fold(text));
  std::string out;
  bool space = false;
  for (char c : folded) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

bool has_stemmer(std::string_view locale) { return stemmer_algorithm(locale) != nullptr; }

}  // namespace aisle::text
