// XapianBm25: Xapian (on-disk glass database) as the peer that evaluations and benchmarks
// measure Aisle against, in the same process and run. Not part of the engine.
//
// Two ways to feed it: add_terms() with Aisle's analyzer output (the same terms, so the
// comparison is about the index and the scorer), or add_text() with Xapian's own TermGenerator
// and English stemmer. Weighting: BM25Weight(k1, 0, 1, b, 0.5), k1 = 1.2 and b = 0.75 by
// default as Aisle's BM25F. Document numbers are 0-based in the order added.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "aisle/core/status.h"

namespace aisle::peers {

struct XapianOptions {
  double k1 = 1.2;
  double b = 0.75;
  std::string stemmer = "english";  // for add_text() / search_text()
};

class XapianBm25 {
 public:
  // Creates (overwriting) a database in `dir`. kIoError with Xapian's message on failure.
  static Result<std::unique_ptr<XapianBm25>> create(const std::filesystem::path& dir, XapianOptions options = {});
  ~XapianBm25();

  // A document of analyzed terms (repeats count as within-document frequency).
  Status add_terms(std::span<const std::string> terms);
  // A document of raw text, indexed by Xapian's TermGenerator with its stemmer.
  Status add_text(const std::string& text);
  Status commit();

  struct Hit {
    std::uint32_t doc;
    double score;
  };
  // Top k for the OR of `terms` (analyzed), best first.
  Result<std::vector<Hit>> search_terms(std::span<const std::string> terms, int k);
  // Top k for raw query text parsed by Xapian's QueryParser (OR, stemmed as add_text()).
  Result<std::vector<Hit>> search_text(const std::string& query, int k);

  std::int64_t disk_bytes() const;

 private:
  class Impl;
  explicit XapianBm25(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aisle::peers
