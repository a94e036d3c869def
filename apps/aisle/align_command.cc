// aisle align: trains the EntityAligner on seed links and writes the candidate pairs of the
// entities no seed covers, with scores and whether each passes the threshold chosen for the
// target precision on held-out seeds.
#include <fstream>
#include <memory>
#include <string>
#include <unordered_set>

#include "aisle/core/files.h"
#include "aisle/graph/knowledge_graph.h"
#include "commands.h"

namespace aisle::cli {

Command add_align(CLI::App& app) {
  struct Args {
    std::string left, right, seeds, out, one_to_one = "none";
    bool no_names = false;
    int k = 1;
    models::AlignerConfig config;
    models::AlignerTrainOptions training;
  };
  auto args = std::make_shared<Args>();
  app.add_option("--left", args->left, "Left graph folder (DBP15K side 1 or OpenEA layout)")->required();
  app.add_option("--right", args->right, "Right graph folder (side 2)")->required();
  app.add_option("--seed-links", args->seeds, "Known links: left key TAB right key")->required();
  app.add_option("--out", args->out, "Candidate pairs TSV: left, right, score, above_threshold")->required();
  app.add_option("-k,--k", args->k, "Candidates per left entity")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--one-to-one", args->one_to_one, "none, sinkhorn or mutual")->capture_default_str()
      ->check(CLI::IsMember({"none", "sinkhorn", "mutual"}));
  app.add_flag("--no-names", args->no_names, "Structure only: ignore the names file");
  add_aligner_options(&app, &args->config, &args->training);
  return [args](const Context& context) -> Status {
    AISLE_ASSIGN_OR_RETURN(graph::KnowledgeGraph left, graph::read_kg_folder(args->left, 1, !args->no_names));
    AISLE_ASSIGN_OR_RETURN(graph::KnowledgeGraph right, graph::read_kg_folder(args->right, 2, !args->no_names));
    AISLE_ASSIGN_OR_RETURN(graph::EntityLinks seeds, graph::read_entity_links(args->seeds, left, right));
    say("left: {} entities, {} relations, {} triples; right: {} entities, {} relations, {} triples; {} seed links",
        left.num_entities(), left.num_relations(), left.num_triples(), right.num_entities(), right.num_relations(),
        right.num_triples(), seeds.size());
    args->training.on_epoch = [](int epoch, double loss, double seconds) {
      say("align epoch {}: loss {:.4f}, {:.1f} s", epoch, loss, seconds);
    };
    AISLE_ASSIGN_OR_RETURN(auto aligner, models::EntityAligner::create(args->config, context));
    AISLE_ASSIGN_OR_RETURN(models::AlignerTrainReport report, aligner->train(left, right, seeds, args->training, context));
    std::unordered_set<graph::EntityId> seeded_left, seeded_right;
    for (auto [a, b] : seeds) {
      seeded_left.insert(a);
      seeded_right.insert(b);
    }
    std::vector<graph::EntityId> queries, candidates;
    for (graph::EntityId e = 0; e < left.num_entities(); ++e) {
      if (!seeded_left.count(e)) queries.push_back(e);
    }
    for (graph::EntityId e = 0; e < right.num_entities(); ++e) {
      if (!seeded_right.count(e)) candidates.push_back(e);
    }
    const models::OneToOne mode = args->one_to_one == "sinkhorn" ? models::OneToOne::kSinkhorn
                                  : args->one_to_one == "mutual" ? models::OneToOne::kMutual
                                                                 : models::OneToOne::kNone;
    AISLE_ASSIGN_OR_RETURN(auto ranked, aligner->rank(queries, candidates, args->k, mode, context));
    std::string text = "left\tright\tscore\tabove_threshold\n";
    std::size_t above = 0;
    for (const auto& row : ranked) {
      for (const auto& pair : row) {
        // The threshold is on the nearest-neighbour scale; with one-to-one matching it does not apply.
        const bool passes = mode == models::OneToOne::kNone && pair.score >= report.threshold;
        above += passes && &pair == &row.front() ? 1 : 0;
        text += left.key(pair.left) + "\t" + right.key(pair.right) + "\t" + fmt::format("{:.6f}", pair.score) + "\t" +
                (passes ? "1" : "0") + "\n";
      }
    }
    AISLE_RETURN_IF_ERROR(write_file_atomically(args->out, text));
    say("trained in {:.1f} s ({} epochs, {} train links, {} validation links, {} bootstrapped); validation hits@1 {:.4f}",
        report.seconds, report.epochs, report.train_links, report.validation_links, report.bootstrapped_links,
        report.validation_hits1);
    say("threshold for precision {:.2f} on validation links: {:.4f}; {} of {} left entities pass", args->training.target_precision,
        report.threshold, above, queries.size());
    say("pairs: {}", args->out);
    return Status::ok();
  };
}

}  // namespace aisle::cli
