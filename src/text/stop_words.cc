#include "stop_words.h"

#include <array>

namespace aisle::text {
namespace {

constexpr std::string_view kEnglish[] = {
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "if", "in", "into",
    "is", "it", "its", "of", "on", "or", "such", "that", "the", "their", "then", "there",
    "these", "they", "this", "to", "was", "were", "will", "with", "without"};
constexpr std::string_view kSpanish[] = {
    "a", "al", "con", "de", "del", "e", "el", "en", "es", "la", "las", "lo", "los", "o", "para",
    "por", "que", "se", "sin", "su", "sus", "u", "un", "una", "unas", "unos", "y"};
constexpr std::string_view kFrench[] = {
    "a", "au", "aux", "avec", "ce", "ces", "d", "dans", "de", "des", "du", "en", "et", "l", "la",
    "le", "les", "ou", "par", "pour", "sans", "se", "sur", "un", "une"};
constexpr std::string_view kGerman[] = {
    "aus", "das", "dem", "den", "der", "des", "die", "ein", "eine", "einem", "einen", "einer",
    "eines", "für", "im", "in", "mit", "oder", "ohne", "und", "von", "vom", "zu", "zum", "zur"};
constexpr std::string_view kItalian[] = {
    "a", "al", "alla", "con", "da", "dal", "dei", "del", "della", "di", "e", "gli", "i", "il",
    "in", "la", "le", "lo", "o", "per", "senza", "su", "un", "una", "uno"};
constexpr std::string_view kPortuguese[] = {
    "a", "ao", "as", "com", "da", "das", "de", "do", "dos", "e", "em", "na", "nas", "no", "nos",
    "o", "os", "ou", "para", "por", "sem", "um", "uma"};
constexpr std::string_view kDutch[] = {
    "de", "een", "en", "het", "in", "met", "of", "op", "van", "voor", "zonder"};

}  // namespace

std::span<const std::string_view> stop_words(std::string_view locale) {
  if (locale == "en") return kEnglish;
  if (locale == "es") return kSpanish;
  if (locale == "fr") return kFrench;
  if (locale == "de") return kGerman;
  if (locale == "it") return kItalian;
  if (locale == "pt") return kPortuguese;
  if (locale == "nl") return kDutch;
  return {};
}

}  // namespace aisle::text
