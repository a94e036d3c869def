// KnowledgeGraph: multi-type entities and typed, directed relations, for entity alignment
// (catalog and knowledge-graph merge).
//
// An entity has a key (the id that link files use: "10500", a URI, a product id), an optional
// type ("product", "brand", "person"; empty when the source has none) and an optional name (the
// text the aligner's name encoder reads; empty when the source has none). A triple
// (head, relation, tail) is a directed, typed edge; repeated triples are merged.
//
// After finalize() every entity has one neighbour list holding both directions: an edge
// h -r-> t appears in h's list as (t, r, outgoing) and in t's list as (h, r, incoming), so a
// relation read backwards is a relation of its own ("directed by" vs "directs"). Lists are sorted
// by (relation, direction, entity). multiplicity(centre, i) is how many entries of the centre's
// list share entry i's relation and direction: the number the aligner's inverse-multiplicity
// sampling divides by (one director outweighs any one of fifty actors).
//
// Readers (errors name file:line:field):
//  - DBP15K (Sun et al. 2017) folders: `ent_ids_N` (id TAB key), `triples_N` (head TAB relation
//    TAB tail, numeric ids), optional `names_en` or `names` (id TAB name, may cover both sides;
//    lines for other sides' ids are skipped);
//  - OpenEA (Sun et al. 2020) folders: `rel_triples_N` (head URI TAB relation URI TAB tail URI),
//    entities and relations interned in first-seen order, optional names as above keyed by URI.
//  N is the side (1 or 2). A folder with unsuffixed files (`ent_ids`, `triples`, or
//  `rel_triples`) holds one graph, read whatever the side.
//  - link files (`ref_ent_ids`, `train_links`, `test_links`, OpenEA `ent_links`): left key TAB
//    right key, resolved in the two graphs (kBadInput naming file:line and the side of an unknown key).
// Not thread-safe while building; const methods are safe to share after finalize().
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "aisle/core/status.h"

namespace aisle::graph {

using EntityId = std::uint32_t;
using RelationId = std::uint32_t;

struct Triple {
  EntityId head = 0;
  RelationId relation = 0;
  EntityId tail = 0;
};

struct KgNeighbour {
  EntityId entity = 0;
  RelationId relation = 0;
  bool incoming = false;  // the centre is the tail of the triple
};

class KnowledgeGraph {
 public:
  // The id of the entity `key`, added when new (with `type`; an existing entity keeps its type).
  EntityId add_entity(std::string_view key, std::string_view type = {});
  RelationId add_relation(std::string_view name);
  // kBadInput when an id is out of range. Self-loops are kept out (counted in self_loops()).
  Status add_triple(EntityId head, RelationId relation, EntityId tail);
  void set_name(EntityId entity, std::string name);
  // Sorts and merges the triples and builds the neighbour lists; call after the last add.
  void finalize();

  std::size_t num_entities() const { return keys_.size(); }
  std::size_t num_relations() const { return relations_.size(); }
  std::size_t num_triples() const { return triples_.size(); }
  std::size_t self_loops() const { return self_loops_; }
  bool has_names() const { return named_ > 0; }
  std::size_t named_entities() const { return named_; }

  const std::string& key(EntityId entity) const { return keys_[entity]; }
  const std::string& type(EntityId entity) const { return types_[entity]; }
  const std::string& name(EntityId entity) const { return names_[entity]; }
  const std::string& relation_name(RelationId relation) const { return relations_[relation]; }
  std::optional<EntityId> find(std::string_view key) const;
  const std::vector<Triple>& triples() const { return triples_; }

  // After finalize(): both directions, sorted as described in the header.
  std::span<const KgNeighbour> neighbours(EntityId entity) const;
  std::uint32_t degree(EntityId entity) const { return static_cast<std::uint32_t>(neighbours(entity).size()); }
  // The entries of `entity`'s list sharing the index-th entry's relation and direction.
  std::uint32_t multiplicity(EntityId entity, std::size_t index) const;

 private:
  std::vector<std::string> keys_, types_, names_, relations_;
  std::unordered_map<std::string, EntityId> entity_ids_;
  std::unordered_map<std::string, RelationId> relation_ids_;
  std::vector<Triple> triples_;
  std::size_t self_loops_ = 0;
  std::size_t named_ = 0;
  std::vector<std::uint64_t> offsets_;
  std::vector<KgNeighbour> adjacency_;
  std::vector<std::uint32_t> multiplicity_;  // per adjacency entry
};

// Reads side `side` (1 or 2) of a DBP15K or OpenEA folder (see the header), with names when
// `with_names` and a names file exists. kNotFound when the folder has neither layout.
Result<KnowledgeGraph> read_kg_folder(const std::filesystem::path& folder, int side, bool with_names);

// (left, right) entity pairs of a link file; kBadInput for a malformed line or an unknown key.
using EntityLinks = std::vector<std::pair<EntityId, EntityId>>;
Result<EntityLinks> read_entity_links(const std::filesystem::path& path, const KnowledgeGraph& left,
                                      const KnowledgeGraph& right);

}  // namespace aisle::graph
