#include "aisle/peers/xapian_bm25.h"

#include <cstdlib>

#include <xapian.h>

namespace aisle::peers {

class XapianBm25::Impl {
 public:
  std::filesystem::path dir;
  XapianOptions options;
  std::unique_ptr<Xapian::WritableDatabase> database;
  Xapian::TermGenerator generator;
  Xapian::QueryParser parser;
  Xapian::Stem stem;
  std::unique_ptr<Xapian::Enquire> enquire;

  Result<std::vector<Hit>> run(const Xapian::Query& query, int k) {
    try {
      if (enquire == nullptr) {
        enquire = std::make_unique<Xapian::Enquire>(*database);
        enquire->set_weighting_scheme(Xapian::BM25Weight(options.k1, 0, 1, options.b, 0.5));
      }
      enquire->set_query(query);
      Xapian::MSet matches = enquire->get_mset(0, static_cast<Xapian::doccount>(k));
      std::vector<Hit> hits;
      for (auto it = matches.begin(); it != matches.end(); ++it) {
        hits.push_back(Hit{static_cast<std::uint32_t>(*it - 1), it.get_weight()});
      }
      return hits;
    } catch (const Xapian::Error& error) {
      return Status::internal("xapian: " + error.get_msg());
    }
  }
};

XapianBm25::XapianBm25(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
XapianBm25::~XapianBm25() = default;

Result<std::unique_ptr<XapianBm25>> XapianBm25::create(const std::filesystem::path& dir, XapianOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->options = options;
  // Batch writes as a bulk load would (Xapian's default flushes every 10,000 documents).
  ::setenv("XAPIAN_FLUSH_THRESHOLD", "200000", 0);
  try {
    impl->database = std::make_unique<Xapian::WritableDatabase>(dir.string(), Xapian::DB_CREATE_OR_OVERWRITE);
    impl->stem = Xapian::Stem(options.stemmer);
    impl->generator.set_stemmer(impl->stem);
    impl->parser.set_stemmer(impl->stem);
    impl->parser.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
    impl->parser.set_default_op(Xapian::Query::OP_OR);
  } catch (const Xapian::Error& error) {
    return Status::io_error("xapian cannot create " + dir.string() + ": " + error.get_msg());
  }
  return std::unique_ptr<XapianBm25>(new XapianBm25(std::move(impl)));
}

Status XapianBm25::add_terms(std::span<const std::string> terms) {
  try {
    Xapian::Document document;
    for (const std::string& term : terms) {
      if (!term.empty() && term.size() < 200) document.add_term(term);
    }
    impl_->database->add_document(document);
  } catch (const Xapian::Error& error) {
    return Status::io_error("xapian: " + error.get_msg());
  }
  return Status::ok();
}

Status XapianBm25::add_text(const std::string& text) {
  try {
    Xapian::Document document;
    impl_->generator.set_document(document);
    impl_->generator.index_text(text);
    impl_->database->add_document(document);
  } catch (const Xapian::Error& error) {
    return Status::io_error("xapian: " + error.get_msg());
  }
  return Status::ok();
}

Status XapianBm25::commit() {
  try {
    impl_->database->commit();
    impl_->parser.set_database(*impl_->database);
    impl_->enquire.reset();
  } catch (const Xapian::Error& error) {
    return Status::io_error("xapian: " + error.get_msg());
  }
  return Status::ok();
}

Result<std::vector<XapianBm25::Hit>> XapianBm25::search_terms(std::span<const std::string> terms, int k) {
  return impl_->run(Xapian::Query(Xapian::Query::OP_OR, terms.begin(), terms.end()), k);
}

Result<std::vector<XapianBm25::Hit>> XapianBm25::search_text(const std::string& query, int k) {
  try {
    return impl_->run(impl_->parser.parse_query(query, 0), k);
  } catch (const Xapian::Error& error) {
    return Status::bad_input("xapian cannot parse the query: " + error.get_msg());
  }
}

std::int64_t XapianBm25::disk_bytes() const {
  std::int64_t total = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(impl_->dir, error)) {
    if (entry.is_regular_file(error)) total += static_cast<std::int64_t>(entry.file_size(error));
  }
  return total;
}

}  // namespace aisle::peers
