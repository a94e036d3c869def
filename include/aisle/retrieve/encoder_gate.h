// The encoder's validation gate: does adding the vector strategy to lexical search help on
// queries the encoder never saw?
//
// `aisle train encoder` holds the gate slice (core/validation.h, in_gate_slice) out of the
// encoder's training pairs (hold_out_gate_slice), trains on the rest, then validate_encoder()
// compares on the held-out queries:
//   lexical  the lexical strategy's top k (BM25F + popularity prior, the query's locale);
//   vector   exact k-NN over every listing of the query's locale (cosine), above the floor;
//   hybrid   reciprocal rank fusion (Cormack et al. 2009, k = 60) of lexical and vector.
// The floor is the vector strategy's calibrated cut: neighbours below it are not candidates,
// so a query nothing answers gets no near neighbours. It is chosen on one half of the held-out
// queries (the floor maximizing hybrid nDCG@k there; among floors within 0.002 of the best,
// the highest) and the verdict is measured on the other half: hybrid with the floor against
// lexical, nDCG@k with the grades as linear gains, unjudged products counting 0. Details carry
// the floor, vector alone (without the floor), hybrid without a floor, recall@depth of the lexical and hybrid
// candidates, and the share of held-out queries without any relevant product for which the
// vector strategy still returned something ("junk").
//
// The verdict is saved in the encoder's file (models::TextEncoder::validation); the search
// pipeline runs the vector strategy by default only when it is active.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/core/validation.h"
#include "aisle/models/text_encoder.h"
#include "aisle/retrieve/lexical.h"

namespace aisle::retrieve {

// A query of the gate slice with every grade it has (store product id -> grade 0..1).
struct HeldOutQuery {
  std::string text;
  std::string locale;
  std::unordered_map<std::uint32_t, float> grades;
};

// The pairs of `data` whose query is outside the gate slice of `seed` (queries keep their
// positions; products are untouched); the gate slice's queries go to `held_out`.
models::TrainingSet hold_out_gate_slice(const models::TrainingSet& data, std::uint64_t seed,
                                        std::vector<HeldOutQuery>* held_out);

struct EncoderGateOptions {
  int k = 10;       // nDCG cut-off
  int depth = 100;  // candidates per strategy, as at search time
  double rrf_k = 60;
  GateOptions gate;
};

// The verdict (layer "encoder", baseline "lexical"); details["floor"] is the calibrated cosine
// floor. `products` are the catalog's listings (every locale); kBadInput when a query's locale
// has no analyzer. Cost: one encoding of the catalog plus an exact scan per held-out query.
Result<LayerVerdict> validate_encoder(const LexicalCatalog& catalog, const models::TextEncoder& encoder,
                                      std::span<const text::Document> products, std::span<const HeldOutQuery> queries,
                                      const EncoderGateOptions& options, const Context& context);

}  // namespace aisle::retrieve
