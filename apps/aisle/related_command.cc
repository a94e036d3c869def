// aisle related ID: the products related to one product by the BLADE model, with their titles.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "aisle/core/locale.h"
#include "aisle/retrieve/related.h"
#include "aisle/store/store.h"
#include "commands.h"

namespace aisle::cli {

Command add_related(CLI::App& app) {
  struct Args {
    std::string data_dir, product, locale;
    bool all_locales = false;
    int k = 10;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  app.add_option("product", args->product, "Product id (external)")->required();
  app.add_option("--data-dir", args->data_dir, "Data directory")->required();
  app.add_option("-k,--k", args->k, "Related products to show")->capture_default_str()->check(CLI::Range(1, 10000));
  app.add_option("--locale", args->locale,
                 "Related products with a listing in this locale (default: the product's own locale)");
  app.add_flag("--all-locales", args->all_locales, "Related products in every locale");
  app.add_flag("--json", args->json, "One JSON object");
  return [args](const Context& context) -> Status {
    AISLE_ASSIGN_OR_RETURN(auto related, retrieve::RelatedProducts::open(args->data_dir, context));
    store::StoreOptions store_options;
    store_options.read_only = true;
    AISLE_ASSIGN_OR_RETURN(auto store, store::Store::open(args->data_dir, store_options));
    // The locale: the one asked for, else the product's own (its first listing).
    std::string locale = args->locale;
    std::string title;
    for (const std::string_view code_view : locale_codes()) {
      const std::string code(code_view);
      if (!locale.empty() && code != locale) continue;
      AISLE_ASSIGN_OR_RETURN(auto listing, store->find_product(code, args->product));
      if (!listing) continue;
      locale = code;
      title = listing->record.title;
      break;
    }
    AISLE_ASSIGN_OR_RETURN(const std::vector<retrieve::RelatedListing> hits,
                           retrieve::related_listings(*related, *store, args->product, locale, args->k,
                                                      args->all_locales || locale.empty()));
    auto title_of = [](const retrieve::RelatedListing& hit) { return hit.listing ? hit.listing->record.title : std::string(); };
    if (args->json) {
      nlohmann::json out = {{"product", args->product}, {"title", title}, {"related", nlohmann::json::array()}};
      for (const auto& hit : hits) {
        out["related"].push_back({{"product_id", hit.hit.external_id}, {"title", title_of(hit)}, {"score", hit.hit.score}});
      }
      say("{}", out.dump(2));
      return Status::ok();
    }
    say("related to {} {}", args->product, title);
    int rank = 0;
    for (const auto& hit : hits) say("{:>3}. {:<10} {:>8.3f}  {}", ++rank, hit.hit.external_id, hit.hit.score, title_of(hit));
    return Status::ok();
  };
}

}  // namespace aisle::cli
