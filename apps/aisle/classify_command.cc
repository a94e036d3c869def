// aisle classify: the ESCI class of one (query, product) pair, with the class probabilities.
#include <algorithm>
#include <memory>
#include <string>

#include <fmt/ranges.h>

#include "aisle/core/validation.h"
#include "aisle/rank/esci.h"
#include "aisle/retrieve/lexical.h"
#include "aisle/store/store.h"
#include "commands.h"

namespace aisle::cli {

Command add_classify(CLI::App& app) {
  struct Args {
    std::string data_dir, query, product, locale = "en", product_locale;
  };
  auto args = std::make_shared<Args>();
  app.add_option("--data-dir", args->data_dir, "Data directory")->required();
  app.add_option("--query", args->query, "Query text")->required();
  app.add_option("--product", args->product, "Product id (external)")->required();
  app.add_option("--locale", args->locale, "Locale of the query")->capture_default_str();
  app.add_option("--product-locale", args->product_locale, "Locale of the listing (default: the query's)");
  return [args](const Context& context) -> Status {
    store::StoreOptions store_options;
    store_options.read_only = true;
    AISLE_ASSIGN_OR_RETURN(auto store, store::Store::open(args->data_dir, store_options));
    AISLE_ASSIGN_OR_RETURN(Locale locale, Locale::parse(args->locale));
    const std::string product_locale = args->product_locale.empty() ? locale.code() : args->product_locale;
    AISLE_ASSIGN_OR_RETURN(auto product, store->find_product(product_locale, args->product));
    if (!product) return Status::not_found("no product " + args->product + " in locale " + product_locale);
    AISLE_ASSIGN_OR_RETURN(auto classifier, models::RelevanceClassifier::load(rank::classifier_path(args->data_dir), context));
    rank::RelevanceDataReport report;
    AISLE_ASSIGN_OR_RETURN(models::RelevanceData data, rank::relevance_data_from_store(*store, &report));
    models::EngagementGraph graph(std::move(data));
    const text::Document document = retrieve::to_document(*product);
    const models::PairInput pair{args->query, locale.code(), &document};
    AISLE_ASSIGN_OR_RETURN(std::vector<float> out, classifier->predict(std::span<const models::PairInput>(&pair, 1), &graph));
    const models::ClassifierConfig& config = classifier->config();
    const auto query_node = graph.find_query(args->query, locale.code());
    const auto product_node = graph.find_product(document.external_id);
    say("query \"{}\" [{}] x {} \"{}\" (graph: query {}, product {})", args->query, locale.code(), document.external_id,
        document.title, query_node ? fmt::format("{} neighbours", graph.query_neighbours(*query_node).size()) : "unseen",
        product_node ? fmt::format("{} neighbours", graph.product_neighbours(*product_node).size()) : "unseen");
    if (config.mode != models::LabelMode::kClasses) {
      say("  relevance {:.3f} ({})", out[0], models::label_mode_name(config.mode));
      return Status::ok();
    }
    const auto best = std::max_element(out.begin(), out.end()) - out.begin();
    std::vector<std::string> cells;
    for (std::size_t k = 0; k < out.size(); ++k) cells.push_back(fmt::format("{} {:.3f}", config.class_names[k], out[k]));
    say("  label {}  ({})", config.class_names[static_cast<std::size_t>(best)], fmt::join(cells, ", "));
    // Whether searches show this label: only when the classifier beat the majority class on
    // its held-out queries.
    auto verdict = LayerVerdict::from_json(classifier->validation());
    say("  gate: {}", verdict.is_ok() ? verdict->reason
                                      : "off: the model has no validation verdict (retrain with `aisle train classifier`)");
    return Status::ok();
  };
}

}  // namespace aisle::cli
