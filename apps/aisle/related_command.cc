// aisle related ID: the products related to one product by the BLADE model, with their titles.
#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

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
    // More are ranked than shown: products without a listing in the locale make room.
    AISLE_ASSIGN_OR_RETURN(std::vector<retrieve::RelatedHit> ranked,
                           related->top_k(args->product, args->all_locales ? args->k : 4 * args->k));
    // Titles and locales from the store, when it has the products.
    std::unordered_map<std::string, std::string> titles;
    std::unordered_map<std::string, std::vector<std::string>> locales;  // id -> locales listing it
    store::StoreOptions store_options;
    store_options.read_only = true;
    auto store = store::Store::open(args->data_dir, store_options);
    if (store.is_ok()) {
      std::unordered_map<std::string, int> wanted;
      wanted[args->product] = 1;
      for (const auto& hit : ranked) wanted[hit.external_id] = 1;
      AISLE_RETURN_IF_ERROR((*store)->for_each_product([&](store::Product&& product) -> Status {
        if (!wanted.count(product.record.id)) return Status::ok();
        locales[product.record.id].push_back(product.record.locale);
        auto [it, inserted] = titles.try_emplace(product.record.id, product.record.title);
        if (!inserted && product.record.locale == args->locale) it->second = product.record.title;
        return Status::ok();
      }));
    }
    std::string locale = args->locale;
    if (locale.empty() && !locales[args->product].empty()) locale = locales[args->product].front();
    std::vector<retrieve::RelatedHit> hits;
    for (const auto& hit : ranked) {
      if (static_cast<int>(hits.size()) >= args->k) break;
      const auto& listed = locales[hit.external_id];
      const bool here = std::find(listed.begin(), listed.end(), locale) != listed.end();
      if (args->all_locales || locale.empty() || here) hits.push_back(hit);
    }
    if (args->json) {
      nlohmann::json out = {{"product", args->product}, {"title", titles[args->product]}, {"related", nlohmann::json::array()}};
      for (const auto& hit : hits) {
        out["related"].push_back({{"product_id", hit.external_id}, {"title", titles[hit.external_id]}, {"score", hit.score}});
      }
      say("{}", out.dump(2));
      return Status::ok();
    }
    say("related to {} {}", args->product, titles[args->product]);
    int rank = 0;
    for (const auto& hit : hits) say("{:>3}. {:<10} {:>8.3f}  {}", ++rank, hit.external_id, hit.score, titles[hit.external_id]);
    return Status::ok();
  };
}

}  // namespace aisle::cli
