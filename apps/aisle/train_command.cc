// aisle train encoder: learns the two-tower text encoder from the store's judgments and feedback.
#include <memory>
#include <string>

#include "aisle/retrieve/vector_strategy.h"
#include "aisle/store/store.h"
#include "commands.h"

namespace aisle::cli {

Command add_train(CLI::App& app) {
  app.require_subcommand(1);
  struct Args {
    std::string data_dir;
    EncoderArgs encoder;
  };
  auto args = std::make_shared<Args>();
  CLI::App* encoder = app.add_subcommand(
      "encoder", "Train the query/product encoder of the vector strategy (judgments not of split \"test\", clicks, "
                 "carts, purchases); `aisle index` then embeds the catalog");
  encoder->add_option("--data-dir", args->data_dir, "Data directory")->required();
  add_encoder_options(encoder, &args->encoder);
  return [args, encoder](const Context& context) -> Status {
    if (!encoder->parsed()) return Status::bad_input("unknown training task");
    AISLE_RETURN_IF_ERROR(args->encoder.resolve());
    store::StoreOptions store_options;
    store_options.read_only = true;
    AISLE_ASSIGN_OR_RETURN(auto store, store::Store::open(args->data_dir, store_options));
    retrieve::TrainingSetReport data_report;
    AISLE_ASSIGN_OR_RETURN(models::TrainingSet data, retrieve::training_set_from_store(*store, &data_report));
    say("training data: {} queries, {} products, {} judgments ({} of split \"test\" held out), {} engaged pairs",
        data_report.queries, data_report.products, data_report.judgments, data_report.held_out,
        data_report.engagement_pairs);
    if (data.pairs.empty()) {
      return Status::bad_input("no judgments or engagement in " + args->data_dir +
                               " to train on (ingest judgments or feedback events first)");
    }
    AISLE_ASSIGN_OR_RETURN(auto model, models::TextEncoder::create(args->encoder.config, context));
    args->encoder.training.on_epoch = [](int epoch, double loss, double seconds) {
      say("epoch {}: loss {:.4f}, {:.1f} s", epoch, loss, seconds);
    };
    AISLE_ASSIGN_OR_RETURN(models::TrainReport report, model->train(data, args->encoder.training, context));
    AISLE_RETURN_IF_ERROR(model->save(retrieve::encoder_path(args->data_dir)));
    say("encoder ({}, {} dims, {} parameters) trained on {} positives and {} hard negatives: {}",
        models::architecture_name(model->config().architecture), model->dim(), model->parameters(), report.positives,
        report.hard_negatives, retrieve::encoder_path(args->data_dir).string());
    return Status::ok();
  };
}

}  // namespace aisle::cli
