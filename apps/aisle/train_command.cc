// aisle train encoder | classifier | ranker | related: learns the two-tower text encoder, the
// ESCI classifier or the learning-to-rank model from the store's judgments and feedback, or the
// related-products model (BLADE) from a product-graph edge file and the store's product texts.
#include <memory>
#include <string>

#include "aisle/rank/esci.h"
#include "aisle/rank/training.h"
#include "aisle/graph/graph.h"
#include "aisle/core/validation.h"
#include "aisle/retrieve/encoder_gate.h"
#include "aisle/retrieve/lexical.h"
#include "aisle/retrieve/related.h"
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

  struct RankArgs {
    std::string data_dir, labels = "auto", objective = "lambdamart";
    rank::RankerTrainingOptions options;
    bool engagement = true;
  };
  auto rank_args = std::make_shared<RankArgs>();
  CLI::App* ranker = app.add_subcommand(
      "ranker", "Train the LambdaMART re-ranker over the pipeline's candidates, from judgments (not of split \"test\") "
                "or, without judgments, from click logs with position-bias correction");
  ranker->add_option("--data-dir", rank_args->data_dir, "Data directory")->required();
  ranker->add_option("--labels", rank_args->labels, "auto (judgments when any), judgments or clicks")
      ->check(CLI::IsMember({"auto", "judgments", "clicks"}))->capture_default_str();
  ranker->add_option("--objective", rank_args->objective, "lambdamart (rank:ndcg) or regression (squared error)")
      ->check(CLI::IsMember({"lambdamart", "regression"}))->capture_default_str();
  ranker->add_option("--rounds", rank_args->options.ranker.rounds, "Boosting rounds (at most)")->capture_default_str()
      ->check(CLI::Range(1, 100000));
  ranker->add_option("--eta", rank_args->options.ranker.learning_rate, "Boosting learning rate")->capture_default_str();
  ranker->add_option("--max-depth", rank_args->options.ranker.max_depth, "Tree depth")->capture_default_str()
      ->check(CLI::Range(1, 20));
  ranker->add_option("--depth", rank_args->options.depth, "Candidates per strategy")->capture_default_str()
      ->check(CLI::Range(1, 10000));
  ranker->add_flag_callback("--no-engagement-features", [rank_args] { rank_args->engagement = false; },
                            "Leave out product_queries, product_grade and memory_score (for catalogs made of "
                            "judgment files, where \"no other query judged this product\" reveals the split)");

  struct ClassifierCommandArgs {
    std::string data_dir;
    ClassifierArgs classifier;
  };
  auto classifier_args = std::make_shared<ClassifierCommandArgs>();
  CLI::App* classifier = app.add_subcommand(
      "classifier", "Train the ESCI relevance classifier (per-language encoders, alignment, engagement-graph GNN, "
                    "per-locale fine-tuning) from judgments (not of split \"test\") and feedback events");
  classifier->add_option("--data-dir", classifier_args->data_dir, "Data directory")->required();
  add_classifier_options(classifier, &classifier_args->classifier);
  struct RelatedArgs {
    std::string data_dir, edges;
    bool text = true;
    models::BladeConfig config;
    models::BladeTrainOptions training;
  };
  auto related_args = std::make_shared<RelatedArgs>();
  CLI::App* related = app.add_subcommand(
      "related", "Train the related-products model (BLADE dual embeddings) on a directed product-graph edge CSV; "
                 "product texts come from the store when its catalog has the graph's ids");
  related->add_option("--data-dir", related_args->data_dir, "Data directory")->required();
  related->add_option("--edges", related_args->edges, "Edge CSV source,target[,weight][,type] of external product ids")->required();
  related->add_flag_callback("--no-text", [related_args] { related_args->text = false; },
                             "Free node embeddings only, even when the catalog has the products' text");
  add_blade_options(related, &related_args->config, &related_args->training);
  return [args, encoder, rank_args, ranker, classifier_args, classifier, related_args, related](const Context& context) -> Status {
    if (related->parsed()) {
      RelatedArgs& r = *related_args;
      AISLE_ASSIGN_OR_RETURN(graph::EdgeList list, graph::read_edge_csv(r.edges));
      AISLE_ASSIGN_OR_RETURN(graph::DirectedGraph g, graph::DirectedGraph::from_edges(list.names.size(), list.edges));
      const graph::DegreeStats stats = graph::degree_stats(g);
      say("related graph: {} products, {} edges ({} self-loops dropped), {} reciprocal, in-degree power law alpha {:.2f} "
          "(d_min {})",
          stats.nodes, stats.edges, list.self_loops, stats.reciprocal_edges, stats.in_degree_law.alpha, stats.in_degree_law.d_min);
      // Product texts: the first listing of each id in the store (by store id).
      std::vector<text::Document> texts;
      if (r.text) {
        store::StoreOptions store_options;
        store_options.read_only = true;
        AISLE_ASSIGN_OR_RETURN(auto store, store::Store::open(r.data_dir, store_options));
        texts.resize(list.names.size());
        std::size_t found = 0;
        AISLE_RETURN_IF_ERROR(store->for_each_product([&](store::Product&& product) -> Status {
          auto it = list.ids.find(product.record.id);
          if (it != list.ids.end() && texts[it->second].title.empty()) {
            texts[it->second] = retrieve::to_document(product);
            ++found;
          }
          return Status::ok();
        }));
        say("product texts for {} of {} graph products", found, list.names.size());
        if (found == 0) texts.clear();
      }
      r.training.on_epoch = [](int epoch, double loss, double seconds) { say("epoch {}: loss {:.4f}, {:.1f} s", epoch, loss, seconds); };
      AISLE_ASSIGN_OR_RETURN(auto model, models::Blade::create(r.config, context));
      AISLE_ASSIGN_OR_RETURN(models::BladeTrainReport report, model->train(g, texts, list.names, r.training, context));
      const std::filesystem::path path = retrieve::related_path(r.data_dir);
      AISLE_RETURN_IF_ERROR(model->save(path));
      say("related-products model ({} dims, {}, mean neighbourhood {:.1f}, {} epochs, {:.1f} s): {}", r.config.dim,
          texts.empty() ? "free embeddings" : "free embeddings + product text", report.mean_neighbourhood, report.epochs,
          report.seconds, path.string());
      return Status::ok();
    }
    if (classifier->parsed()) {
      ClassifierCommandArgs& c = *classifier_args;
      store::StoreOptions store_options;
      store_options.read_only = true;
      AISLE_ASSIGN_OR_RETURN(auto store, store::Store::open(c.data_dir, store_options));
      rank::RelevanceDataReport data_report;
      std::vector<models::RelevanceExample> gate;
      AISLE_ASSIGN_OR_RETURN(models::RelevanceData data,
                             rank::relevance_data_from_store(*store, &data_report, {true, context.seed(), true}, &gate));
      say("classifier data: {} products, {} queries, {} {} judgments ({} of split \"test\" held out, {} of the gate "
          "slice held out), {} engagement edges, {} product and {} query alignment pairs",
          data_report.products, data_report.queries, data_report.examples, data_report.esci ? "ESCI" : "graded",
          data_report.held_out, gate.size(), data_report.engagement_edges, data_report.product_alignments,
          data_report.query_alignments);
      if (data.examples.empty()) return Status::bad_input("no judgments in " + c.data_dir + " to train the classifier on");
      models::ClassifierConfig config = c.classifier.config;
      config.mode = data_report.esci ? models::LabelMode::kClasses : models::LabelMode::kGraded;
      config.class_names = {"E", "S", "C", "I"};
      AISLE_ASSIGN_OR_RETURN(auto model, models::RelevanceClassifier::create(config, context));
      c.classifier.training.on_epoch = [](const std::string& phase, int epoch, double loss, double seconds) {
        say("{} epoch {}: loss {:.4f}, {:.1f} s", phase, epoch, loss, seconds);
      };
      models::EngagementGraph graph(data);
      AISLE_ASSIGN_OR_RETURN(models::ClassifierTrainReport report, model->train(data, &graph, c.classifier.training, context));
      AISLE_ASSIGN_OR_RETURN(const LayerVerdict verdict, rank::validate_classifier(*model, data, graph, gate, context));
      model->set_validation(verdict.to_json());
      AISLE_RETURN_IF_ERROR(model->save(rank::classifier_path(c.data_dir)));
      AISLE_RETURN_IF_ERROR(write_training_report(
          c.data_dir, "classifier",
          {{"layer", "classifier"},
           {"config", models::classifier_config_to_json(config)},
           {"data", {{"products", data_report.products}, {"queries", data_report.queries}, {"examples", data_report.examples},
                     {"gate_examples", gate.size()}, {"engagement_edges", data_report.engagement_edges}}},
           {"finetuned_locales", report.finetuned_locales},
           {"validation", verdict.to_json()}}));
      say("classifier ({} mode, languages {}, fine-tuned {}, {} parameters, {:.1f} s): {}",
          models::label_mode_name(config.mode), fmt::join(report.languages, ","), fmt::join(report.finetuned_locales, ","),
          model->parameters(), report.seconds, rank::classifier_path(c.data_dir).string());
      say("classifier gate: {}; macro F1 {:.3f} vs {:.3f}", verdict.reason, verdict.details.value("macro_f1", 0.0),
          verdict.details.value("majority_macro_f1", 0.0));
      return Status::ok();
    }
    if (ranker->parsed()) {
      RankArgs& r = *rank_args;
      AISLE_ASSIGN_OR_RETURN(r.options.labels, rank::parse_label_source(r.labels));
      AISLE_ASSIGN_OR_RETURN(r.options.ranker.objective, rank::parse_objective(r.objective));
      AISLE_ASSIGN_OR_RETURN(auto pipeline, rank::SearchPipeline::open(r.data_dir, context, /*load_ranker=*/false));
      AISLE_RETURN_IF_ERROR(pipeline->use_training_graph(context.seed()));
      rank::FeatureOptions features;
      features.engagement = r.engagement;
      pipeline->use_features(features);
      rank::RankerTrainingReport report;
      AISLE_ASSIGN_OR_RETURN(auto model, rank::train_ranker(*pipeline, r.options, context, &report));
      AISLE_RETURN_IF_ERROR(model->save(rank::ranker_path(r.data_dir)));
      if (report.labels == "clicks") {
        std::string curve;
        for (std::size_t k = 0; k < std::min<std::size_t>(report.bias.propensity.size(), 10); ++k) {
          curve += fmt::format(" {}:{:.2f}", k + 1, report.bias.propensity[k]);
        }
        say("position bias (EM, {} iterations, {} impressions, {} clicks), propensity by position:{}",
            report.bias.iterations, report.bias.impressions, report.bias.clicks, curve);
      }
      say("ranker ({}, labels from {}): {} queries ({} more for early stopping), {} rows, {} of {} labels among "
          "the candidates, {} rounds, {:.2f} s: {}",
          r.objective, report.labels, report.queries, report.validation_queries, report.rows,
          report.labelled_candidates, report.labels_total, report.train.rounds, report.train.seconds,
          rank::ranker_path(r.data_dir).string());
      std::string top;
      int shown = 0;
      for (const auto& [name, share] : model->importance()) {
        if (shown++ == 6) break;
        top += fmt::format(" {} {:.0f}%", name, 100 * share);
      }
      say("most used features:{}", top);
      say("ranker gate ({} held-out queries): {}; fused order {:.4f}", report.gate_queries, report.verdict.reason,
          report.verdict.details.value("fused_order", 0.0));
      AISLE_RETURN_IF_ERROR(write_training_report(
          r.data_dir, "ranker",
          {{"layer", "ranker"},
           {"objective", r.objective},
           {"labels", report.labels},
           {"data", {{"queries", report.queries}, {"early_stopping_queries", report.validation_queries},
                     {"gate_queries", report.gate_queries}, {"rows", report.rows},
                     {"labelled_candidates", report.labelled_candidates}, {"labels", report.labels_total}}},
           {"rounds", report.train.rounds},
           {"validation", report.verdict.to_json()}}));
      return Status::ok();
    }
    if (!encoder->parsed()) return Status::bad_input("unknown training task");
    AISLE_RETURN_IF_ERROR(args->encoder.resolve());
    store::StoreOptions store_options;
    store_options.read_only = true;
    AISLE_ASSIGN_OR_RETURN(auto store, store::Store::open(args->data_dir, store_options));
    retrieve::TrainingSetReport data_report;
    AISLE_ASSIGN_OR_RETURN(const models::TrainingSet all, retrieve::training_set_from_store(*store, &data_report));
    // The gate slice's queries are never trained on: they decide whether the vector strategy
    // may change what a search shows.
    std::vector<retrieve::HeldOutQuery> held_out;
    const models::TrainingSet data = retrieve::hold_out_gate_slice(all, context.seed(), &held_out);
    say("training data: {} queries ({} held out for the gate), {} products, {} judgments ({} of split \"test\" held "
        "out), {} engaged pairs",
        data_report.queries, held_out.size(), data_report.products, data_report.judgments, data_report.held_out,
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
    LayerVerdict verdict;
    auto catalog = retrieve::open_lexical(args->data_dir);
    if (catalog.is_ok()) {
      AISLE_ASSIGN_OR_RETURN(verdict, retrieve::validate_encoder(*catalog, *model, all.products, held_out, {}, context));
    } else {
      verdict.layer = "encoder";
      verdict.baseline = "lexical";
      verdict.reason = "off: no lexical index to compare with (run `aisle index` before `aisle train encoder`)";
    }
    model->set_validation(verdict.to_json());
    AISLE_RETURN_IF_ERROR(model->save(retrieve::encoder_path(args->data_dir)));
    AISLE_RETURN_IF_ERROR(write_training_report(
        args->data_dir, "encoder",
        {{"layer", "encoder"},
         {"config", models::config_to_json(model->config())},
         {"data", {{"queries", data_report.queries}, {"gate_queries", held_out.size()}, {"products", data_report.products},
                   {"judgments", data_report.judgments}, {"engaged_pairs", data_report.engagement_pairs}}},
         {"epoch_loss", report.epoch_loss},
         {"validation", verdict.to_json()}}));
    say("encoder ({}, {} dims, {} parameters) trained on {} positives and {} hard negatives: {}",
        models::architecture_name(model->config().architecture), model->dim(), model->parameters(), report.positives,
        report.hard_negatives, retrieve::encoder_path(args->data_dir).string());
    say("vector strategy gate: {}", verdict.reason);
    if (verdict.details.contains("floor")) {
      say("  vector floor {:.3f} (calibrated on {} held-out queries); vector alone {:.4f}, hybrid without the floor "
          "{:.4f}; recall@{}: lexical {:.3f}, hybrid {:.3f}",
          verdict.details["floor"].get<double>(), verdict.details["calibration_queries"].get<std::int64_t>(),
          verdict.details["vector_alone"].get<double>(), verdict.details["hybrid_without_floor"].get<double>(),
          verdict.details["recall_depth"].get<int>(), verdict.details["lexical_recall"].get<double>(),
          verdict.details["hybrid_recall"].get<double>());
    }
    return Status::ok();
  };
}

}  // namespace aisle::cli
