// aisle config check: validates <data-dir>/aisle.toml and says what it changes.
#include <filesystem>
#include <memory>
#include <string>

#include "aisle/core/config.h"
#include "aisle/rank/pipeline.h"
#include "aisle/retrieve/lexical.h"
#include "aisle/retrieve/policy.h"
#include "commands.h"

namespace aisle::cli {

Command add_config(CLI::App& app) {
  app.require_subcommand(1);
  auto data_dir = std::make_shared<std::string>();
  CLI::App* check = app.add_subcommand(
      "check", "Validate <data-dir>/aisle.toml (file:line:key errors) and check it against the index: synonyms "
               "analyzed, the default strategy runnable, index-time settings (field weights, stop words) applied");
  check->add_option("--data-dir", *data_dir, "Data directory")->required();
  return [data_dir](const Context& context) -> Status {
    AISLE_ASSIGN_OR_RETURN(const DataConfig config, load_config(*data_dir));
    if (config.file.empty()) {
      say("no {}: every setting has its default", config_path(*data_dir).string());
    } else {
      say("{}: valid", config.file.string());
    }
    say("default_strategy: {}", config.default_strategy);
    for (const auto& [field, weight] : config.field_weights) say("fields.{}: {}", field, weight);
    if (!config.facet_attributes.empty()) say("facets.attributes: {}", fmt::join(config.facet_attributes, ", "));
    for (const auto& [locale, settings] : config.locales) {
      say("locales.{}: currency {}, {} synonym rule(s), stop words {}", locale, config.currency(locale),
          settings.synonyms.size(),
          settings.stop_words ? fmt::format("{} listed", settings.stop_words->size()) : std::string("built in"));
    }
    if (!std::filesystem::exists(retrieve::index_path(*data_dir))) {
      AISLE_ASSIGN_OR_RETURN(const text::Synonyms synonyms,
                             text::Synonyms::compile(config, text::index_options(config).analyzer));
      say("synonyms: {} phrase(s) compiled", synonyms.size());
      say("no index yet: `aisle index --data-dir {}` builds it with these settings", *data_dir);
      return Status::ok();
    }
    // Against the index: synonyms analyzed as it analyzes, the strategy runnable.
    AISLE_ASSIGN_OR_RETURN(auto pipeline, rank::SearchPipeline::open(*data_dir, context));
    const retrieve::LexicalCatalog& catalog = pipeline->catalog();
    say("synonyms: {} phrase(s) compiled with the index's analyzers", catalog.synonyms->size());
    if (config.default_strategy != "policy") {
      rank::PipelineOptions options;
      auto action = pipeline->action_for(options);
      if (!action.is_ok()) {
        return Status(action.status().code(), "default_strategy " + config.default_strategy + ": " + action.status().message(),
                      Where(config.file.string(), 0, "default_strategy"));
      }
      say("default_strategy runs: {}", action->describe());
    }
    if (catalog.settings_pending.empty()) {
      say("index: built with these settings");
    } else {
      for (const std::string& change : catalog.settings_pending) say("index: not yet applied: {}", change);
      say("run `aisle index --data-dir {}` to rebuild the index with them", *data_dir);
    }
    return Status::ok();
  };
}

}  // namespace aisle::cli
