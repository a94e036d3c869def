// The relevance classifier of a data directory: its training data from the store, and the
// engagement graph it reads at query time.
//
// Training data (relevance_data_from_store):
//  - products: every stored listing;
//  - examples: judgments not of split "test": ESCI labels as the four classes E, S, C, I (the
//    mode is kClasses); without any ESCI label, numeric grades scaled to 0..1 by their range
//    (kGraded);
//  - engagement edges: click 1, add-to-cart 2, purchase 4 per event (models::
//    engagement_weight), plus the same judgments (E 4, S 2, C 1; grades: 4 x scaled grade when
//    at least 0.5);
//  - product alignments: listings of one `group` in different locales (each listing with the
//    group's first listing of another locale);
//  - query alignments: queries of different locales whose Exact judgments or purchases name
//    listings of one group.
// The classifier file is <data_dir>/models/classifier.bin (`aisle train classifier`).
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/core/validation.h"
#include "aisle/models/relevance_classifier.h"
#include "aisle/store/store.h"

namespace aisle::rank {

std::filesystem::path classifier_path(const std::filesystem::path& data_dir);

struct RelevanceDataReport {
  std::int64_t products = 0, queries = 0, examples = 0, held_out = 0, engagement_edges = 0;
  std::int64_t product_alignments = 0, query_alignments = 0;
  bool esci = false;  // the examples are ESCI classes (else graded)
};

// What the data holds back, for validation and for training the layers above the classifier.
struct RelevanceDataOptions {
  // The gate slice (core/validation.h, in_gate_slice with gate_seed): its queries' judgments
  // go to the caller's `gate_examples` instead of the examples, and neither their labels, their
  // alignments nor their engagement events reach the graph: they are new queries, as a
  // shopper's unseen query is at search time. Their queries keep an index in data.queries.
  bool hold_out_gate = false;
  std::uint64_t gate_seed = 0;
  // false: judgments are not engagement edges (the graph holds events only). The ranker's ESCI
  // features are computed so: a judgment edge would hand a training row its own label.
  bool judgment_edges = true;
};

// kIoError / kInternal from the store.
Result<models::RelevanceData> relevance_data_from_store(store::Store& store, RelevanceDataReport* report,
                                                        const RelevanceDataOptions& options = {},
                                                        std::vector<models::RelevanceExample>* gate_examples = nullptr);

// The classifier's validation gate (kClasses mode): on the held-out gate examples (their
// queries' labels never reached training or the graph), each query's accuracy of the
// classifier's most likely class against the majority class of data.examples. Details carry
// macro F1 of both and the per-class counts. A kGraded classifier gets an "off" verdict: the
// search pipeline reads only the four ESCI classes. kBadInput from predict().
Result<LayerVerdict> validate_classifier(const models::RelevanceClassifier& classifier, const models::RelevanceData& data,
                                         const models::EngagementGraph& graph,
                                         std::span<const models::RelevanceExample> gate, const Context& context);

}  // namespace aisle::rank
