// aisle eval TASK: trains on --train, evaluates on --test, writes a JSON report (DESIGN.md).
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/files.h"
#include "aisle/eval/align.h"
#include "aisle/eval/bandit.h"
#include "aisle/eval/esci.h"
#include "aisle/eval/match.h"
#include "aisle/eval/pipeline_eval.h"
#include "aisle/eval/rank.h"
#include "aisle/eval/related.h"
#include "aisle/eval/relevance.h"
#include "commands.h"

namespace aisle::cli {
namespace {

void print_report(const nlohmann::json& report) {
  say("{} on {}: train {:.2f} s, eval {:.2f} s", report["task"].get<std::string>(),
      report["dataset"].get<std::string>(), report["train_seconds"].get<double>(), report["eval_seconds"].get<double>());
  auto row = [](const std::string& name, const nlohmann::json& metrics) {
    std::string cells;
    for (const auto& [metric, value] : metrics.items()) {
      if (value.is_object()) continue;
      if (value.is_number_float()) cells += fmt::format("  {}={:.4f}", metric, value.get<double>());
      else cells += fmt::format("  {}={}", metric, value.dump());
    }
    say("  {:<28}{}", name, cells);
  };
  row("aisle", report["metrics"]);
  for (const auto& [name, metrics] : report["baselines"].items()) row(name, metrics);
  if (report.contains("fusion")) {
    for (const auto& [name, metrics] : report["fusion"].items()) row("fused: " + name, metrics);
  }
}

// "a,b,,c" -> {"a", "b", "c"}.
std::vector<std::string> split_commas(const std::string& list) {
  std::vector<std::string> out;
  for (std::size_t begin = 0; begin < list.size();) {
    std::size_t end = list.find(',', begin);
    if (end == std::string::npos) end = list.size();
    if (end > begin) out.push_back(list.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

}  // namespace

Command add_eval(CLI::App& app) {
  app.require_subcommand(1);
  struct Args {
    eval::RelevanceOptions relevance;
    eval::RankEvalOptions rank;
    EncoderArgs encoder;
    eval::EsciEvalOptions esci;
    eval::MultilingualEvalOptions multilingual;
    ClassifierArgs classifier;
    eval::RelatedEvalOptions related;
    eval::BanditOpeOptions ope;
    eval::BanditSimOptions sim;
    eval::AlignEvalOptions align;
    eval::MatchEvalOptions match;
    eval::PipelineEvalOptions pipeline;
    bool no_names = false;
    std::string policies = "linucb,thompson,epsilon";
    std::string methods;
    std::string out;
  };
  auto args = std::make_shared<Args>();
  auto on_epoch = [](int epoch, double loss, double seconds) {
    say("encoder epoch {}: loss {:.4f}, {:.1f} s", epoch, loss, seconds);
  };
  CLI::App* relevance = app.add_subcommand("relevance", "Lexical, vector and hybrid retrieval quality vs Xapian BM25 (nDCG@10, MRR@10, recall@100)");
  relevance->add_option("--train", args->relevance.train, "Judgments whose products join the corpus")->required();
  relevance->add_option("--test", args->relevance.test, "Judgments with the evaluation queries")->required();
  relevance->add_option("--locale", args->relevance.locale, "Locale of the rows and queries")->capture_default_str();
  relevance->add_option("--relevant-min-grade", args->relevance.relevant_min_grade,
                        "Grade at or above which a judged product is relevant")->capture_default_str();
  relevance->add_option("--depth", args->relevance.depth, "Results per query")->capture_default_str()->check(CLI::Range(10, 10000));
  relevance->add_option("--ef", args->relevance.vector_ef, "HNSW beam width at query time")->capture_default_str();
  add_encoder_options(relevance, &args->encoder);
  relevance->add_flag_callback("--no-vectors", [args] { args->encoder.training.epochs = 0; },
                               "Leave out the vector strategy (no encoder training)");
  relevance->add_option("--out", args->out, "Report JSON")->required();

  CLI::App* rank = app.add_subcommand(
      "rank", "LambdaMART and regression rankers over the lexical + vector candidates (nDCG@10, MRR@10, RMSE, kappa)");
  eval::RankEvalOptions& r = args->rank;
  rank->add_option("--train", r.train, "Judgments to learn from (products join the corpus)")->required();
  rank->add_option("--test", r.test, "Judgments to evaluate on; without it, a query-stratified dev split of --train");
  rank->add_option("--dev-fraction", r.dev_fraction, "Share of each query's judgments in the dev split (no --test)")
      ->capture_default_str()->check(CLI::Range(0.01, 0.9));
  rank->add_option("--locale", r.locale, "Locale of the rows and queries")->capture_default_str();
  rank->add_option("--relevant-min-grade", r.relevant_min_grade,
                   "Grade at or above which a judged product is relevant (default: 3/4 of the train range)");
  rank->add_option("--depth", r.depth, "Candidates per strategy")->capture_default_str()->check(CLI::Range(10, 10000));
  rank->add_option("--folds", r.folds, "Cross-fitting folds for the encoder's features (< 2: in-sample)")->capture_default_str();
  rank->add_option("--levels", r.label_levels, "LambdaMART relevance levels 0..N")->capture_default_str()->check(CLI::Range(1, 30));
  rank->add_option("--rounds", r.ranker.rounds, "Boosting rounds (at most)")->capture_default_str()->check(CLI::Range(1, 100000));
  rank->add_option("--eta", r.ranker.learning_rate, "Boosting learning rate")->capture_default_str();
  rank->add_option("--max-depth", r.ranker.max_depth, "Tree depth")->capture_default_str()->check(CLI::Range(1, 20));
  add_encoder_options(rank, &args->encoder);
  rank->add_flag_callback("--no-vectors", [args] { args->encoder.training.epochs = 0; },
                          "Leave out the vector strategy and the learned-text features");
  rank->add_option("--out", args->out, "Report JSON")->required();

  CLI::App* esci = app.add_subcommand(
      "esci", "ESCI / graded relevance classifier: nDCG, micro and macro F1, substitute F1, kappa or RMSE, with ablations");
  esci->add_option("--train", args->esci.train, "Judgments (ESCI examples, CrowdFlower, Home Depot, ...)")->required();
  esci->add_option("--test", args->esci.test, "Test judgments; without it, the split column or a dev split of --train");
  esci->add_option("--products", args->esci.products, "Products file for judgments without product text (ESCI products CSV)");
  esci->add_option("--dev-fraction", args->esci.dev_fraction, "Share of judgments in the dev split")
      ->capture_default_str()->check(CLI::Range(0.01, 0.9));
  esci->add_option("--locale", args->esci.locale, "Locale of rows without one")->capture_default_str();
  esci->add_option("--label-mode", args->esci.label_mode, "auto, classes or graded")->capture_default_str();
  esci->add_flag_callback("--no-ablations", [args] { args->esci.ablations = false; }, "Only the full model and the trivial baseline");
  esci->add_flag_callback("--no-neural", [args] { args->esci.neural = false; },
                          "Leave out the neural classifier: the fused GBDT's metrics lead the report");
  add_classifier_options(esci, &args->classifier);
  esci->add_option("--out", args->out, "Report JSON")->required();

  CLI::App* multilingual = app.add_subcommand(
      "multilingual", "One multilingual classifier vs one per language (F1 per language); cross-lingual alignment recall");
  multilingual->add_option("--train", args->multilingual.train, "Query -> category CSV (task,language,origin_query,category_path,label)")
      ->required();
  multilingual->add_option("--parallel", args->multilingual.parallel, "Parallel queries CSV (query_en, query_de)");
  multilingual->add_option("--dev-fraction", args->multilingual.dev_fraction, "Share of queries held out")
      ->capture_default_str()->check(CLI::Range(0.01, 0.9));
  add_classifier_options(multilingual, &args->classifier);
  multilingual->add_option("--out", args->out, "Report JSON")->required();

  CLI::App* related = app.add_subcommand(
      "related", "Related products on a directed graph: BLADE vs popularity, GraphSAGE, DAEMON and ablations (HR@K, MRR@K, direction)");
  related->add_option("--edges", args->related.edges, "Edge CSV (source,target) split into train and test by a seeded hash");
  related->add_option("--train", args->related.train, "Train edge CSV (with --test instead of --edges)");
  related->add_option("--test", args->related.test, "Test edge CSV");
  related->add_option("--test-fraction", args->related.test_fraction, "Share of --edges held out")->capture_default_str();
  related->add_option("--methods", args->methods, "Comma-separated subset of popularity,graphsage,daemon,blade,blade_fixed_size,blade_uniform");
  add_blade_options(related, &args->related.blade, &args->related.training);
  related->add_option("--out", args->out, "Report JSON (the HR@10-by-degree SVG goes next to it)")->required();

  CLI::App* ope = app.add_subcommand(
      "bandit-ope", "Off-policy evaluation on a uniform-random bandit log (IPS, SNIPS, DR with bootstrap intervals), checked on a logged BTS policy");
  ope->add_option("--log", args->ope.random_log, "Uniform-random log (Open Bandit Dataset CSV), split by time into train and test")
      ->required();
  ope->add_option("--bts-log", args->ope.bts_log, "The Bernoulli TS policy's own log: its value is estimated from --log and compared");
  ope->add_option("--train-fraction", args->ope.train_fraction, "Earliest share of --log that trains")->capture_default_str();
  ope->add_option("--top-m", args->ope.top_m, "Items the learned policy spreads over per slot")->capture_default_str();
  ope->add_option("--epsilon", args->ope.epsilon, "Uniform share of the learned policy")->capture_default_str();
  ope->add_option("--shrinkage", args->ope.shrinkage, "Reward model: impressions of prior towards the slot rate")->capture_default_str();
  ope->add_option("--bootstrap", args->ope.bootstrap, "Bootstrap resamples for the intervals")->capture_default_str();
  ope->add_option("--out", args->out, "Report JSON")->required();

  CLI::App* sim = app.add_subcommand(
      "bandit-sim", "Retrieval policies learning online from simulated shoppers (position-based clicks on judged grades) vs fixed strategy subsets");
  sim->add_option("--data-dir", args->sim.data_dir, "Prepared engine: catalog, index, vectors and ranker trained on train judgments only")
      ->required();
  sim->add_option("--test", args->sim.test, "Judgments whose queries are replayed (Home Depot layout, or any judgment layout)")->required();
  sim->add_option("--locale", args->sim.locale, "Locale of the queries")->capture_default_str();
  sim->add_option("--searches", args->sim.searches, "Simulated searches per policy and per fixed subset")
      ->capture_default_str()->check(CLI::Range(1, 10000000));
  sim->add_option("--policies", args->policies, "Comma-separated subset of linucb,thompson,epsilon")->capture_default_str();
  sim->add_option("--depths", args->sim.depths, "Depths a strategy can be given")->capture_default_str();
  sim->add_option("--budget", args->sim.budget, "Most candidates over the chosen strategies")->capture_default_str();
  sim->add_option("--relevant-min-grade", args->sim.relevant_min_grade, "Grade at or above which a judged product is relevant (recall; default: 75 % up the grade range)")
      ->capture_default_str();
  sim->add_option("--out", args->out, "Report JSON (the reward and regret SVG goes next to it)")->required();

  CLI::App* align = app.add_subcommand(
      "align", "Entity alignment of two knowledge graphs (DBP15K/OpenEA folders): Hits@1/10, MRR, PR-AUC, with ablations");
  align->add_option("--train", args->align.train, "Seed links (left key TAB right key) to train on")->required();
  align->add_option("--test", args->align.test, "Test links")->required();
  align->add_option("--left", args->align.left, "Left graph folder (default: the folder of --train, side 1)");
  align->add_option("--right", args->align.right, "Right graph folder (default: the folder of --train, side 2)");
  align->add_flag("--no-names", args->no_names, "Structure only: ignore the names file");
  align->add_option("--methods", args->methods,
                    "Comma-separated subset of full,no_cross_attention,no_self_attention,uniform_sampling,no_names");
  add_aligner_options(align, &args->align.config, &args->align.training);
  align->add_option("--out", args->out, "Report JSON")->required();

  CLI::App* match = app.add_subcommand(
      "match", "Product record matching between two catalogs (labelled pairs): F1 and PR-AUC vs a title-Jaccard baseline");
  match->add_option("--train", args->match.train, "Labelled pairs to train on (serialized pairs, or a pairs CSV)")->required();
  match->add_option("--dev", args->match.dev, "Validation pairs: the epoch and the threshold are chosen here")->required();
  match->add_option("--test", args->match.test, "Test pairs")->required();
  match->add_option("--epochs", args->match.training.epochs, "Training epochs")->capture_default_str()->check(CLI::Range(1, 1000));
  match->add_option("--batch-size", args->match.training.batch_size, "Pairs per batch")->capture_default_str()->check(CLI::Range(1, 1 << 16));
  match->add_option("--learning-rate", args->match.training.learning_rate, "Adam learning rate")->capture_default_str();
  match->add_option("--dim", args->match.config.embedding_dim, "Token embedding size")->capture_default_str()->check(CLI::Range(2, 4096));
  match->add_option("--hidden", args->match.config.hidden, "Comparison width")->capture_default_str()->check(CLI::Range(2, 4096));
  match->add_option("--max-tokens", args->match.config.max_tokens, "Tokens kept per field")->capture_default_str()->check(CLI::Range(1, 4096));
  match->add_option("--out", args->out, "Report JSON")->required();

  CLI::App* pipeline = app.add_subcommand(
      "pipeline", "What `aisle search` shows, measured: the data directory's default pipeline (only the layers its gates "
                  "let in) on held-out judged queries, against lexical alone, lexical + ranker and popularity");
  pipeline->add_option("--data-dir", args->pipeline.data_dir, "Data directory after the training steps")->required();
  pipeline->add_option("--test", args->pipeline.test, "Held-out judgments (any judgment layout)")->required();
  pipeline->add_option("--locale", args->pipeline.locale, "Locale of rows without one")->capture_default_str();
  pipeline->add_option("--depth", args->pipeline.depth, "Candidates per strategy")->capture_default_str()->check(CLI::Range(1, 10000));
  pipeline->add_option("--relevant-min-grade", args->pipeline.relevant_min_grade, "Numeric grade counted relevant (MRR, recall)")
      ->capture_default_str();
  pipeline->add_option("--out", args->out, "Report JSON")->required();

  return [args, relevance, rank, esci, multilingual, related, ope, sim, align, match, pipeline, on_epoch](const Context& context) -> Status {
    if (!relevance->parsed() && !rank->parsed() && !esci->parsed() && !multilingual->parsed() && !related->parsed() && !ope->parsed() &&
        !sim->parsed() && !align->parsed() && !match->parsed() && !pipeline->parsed()) {
      return Status::bad_input("unknown evaluation task");
    }
    auto on_classifier_epoch = [](const std::string& phase, int epoch, double loss, double seconds) {
      say("classifier {} epoch {}: loss {:.4f}, {:.1f} s", phase, epoch, loss, seconds);
    };
    args->classifier.training.on_epoch = on_classifier_epoch;
    AISLE_RETURN_IF_ERROR(args->encoder.resolve());
    nlohmann::json report;
    if (pipeline->parsed()) {
      AISLE_ASSIGN_OR_RETURN(report, eval::evaluate_pipeline(context, args->pipeline));
    } else if (match->parsed()) {
      args->match.training.on_epoch = [](int epoch, double loss, double validation_ap, double seconds) {
        say("match epoch {}: loss {:.4f}, validation PR-AUC {:.4f}, {:.1f} s", epoch, loss, validation_ap, seconds);
      };
      AISLE_ASSIGN_OR_RETURN(report, eval::evaluate_match(context, args->match));
    } else if (align->parsed()) {
      args->align.names = !args->no_names;
      args->align.methods = split_commas(args->methods);
      args->align.training.on_epoch = [](int epoch, double loss, double seconds) {
        say("align epoch {}: loss {:.4f}, {:.1f} s", epoch, loss, seconds);
      };
      AISLE_ASSIGN_OR_RETURN(report, eval::evaluate_align(context, args->align));
    } else if (ope->parsed()) {
      AISLE_ASSIGN_OR_RETURN(report, eval::evaluate_bandit_ope(context, args->ope));
    } else if (sim->parsed()) {
      args->sim.policies = split_commas(args->policies);
      std::string svg;
      AISLE_ASSIGN_OR_RETURN(report, eval::evaluate_bandit_sim(context, args->sim, &svg));
      std::filesystem::path svg_path = args->out;
      svg_path.replace_extension(".svg");
      AISLE_RETURN_IF_ERROR(write_file_atomically(svg_path, svg));
      say("plot: {}", svg_path.string());
    } else if (related->parsed()) {
      args->related.methods = split_commas(args->methods);
      args->related.training.on_epoch = [](int epoch, double loss, double seconds) {
        say("blade epoch {}: loss {:.4f}, {:.1f} s", epoch, loss, seconds);
      };
      std::string svg;
      AISLE_ASSIGN_OR_RETURN(report, eval::evaluate_related(context, args->related, &svg));
      std::filesystem::path svg_path = args->out;
      svg_path.replace_extension(".svg");
      AISLE_RETURN_IF_ERROR(write_file_atomically(svg_path, svg));
      say("plot: {}", svg_path.string());
    } else if (esci->parsed()) {
      args->esci.classifier = args->classifier.config;
      args->esci.training = args->classifier.training;
      AISLE_ASSIGN_OR_RETURN(report, eval::evaluate_esci(context, args->esci));
    } else if (multilingual->parsed()) {
      args->multilingual.classifier = args->classifier.config;
      args->multilingual.training = args->classifier.training;
      AISLE_ASSIGN_OR_RETURN(report, eval::evaluate_multilingual(context, args->multilingual));
    } else if (rank->parsed()) {
      args->rank.encoder = args->encoder.config;
      args->rank.training = args->encoder.training;
      args->rank.training.on_epoch = on_epoch;
      AISLE_ASSIGN_OR_RETURN(report, eval::evaluate_rank(context, args->rank));
    } else {
      args->relevance.encoder = args->encoder.config;
      args->relevance.training = args->encoder.training;
      args->relevance.training.on_epoch = on_epoch;
      AISLE_ASSIGN_OR_RETURN(report, eval::evaluate_relevance(context, args->relevance));
    }
    AISLE_RETURN_IF_ERROR(write_file_atomically(args->out, report.dump(2) + "\n"));
    print_report(report);
    say("report: {}", args->out);
    return Status::ok();
  };
}

}  // namespace aisle::cli
