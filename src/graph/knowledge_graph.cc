#include "aisle/graph/knowledge_graph.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <limits>
#include <tuple>

#include "aisle/core/errors.h"
#include "aisle/io/byte_source.h"
#include "aisle/io/line_reader.h"
#include "aisle/io/utf8.h"

namespace aisle::graph {

EntityId KnowledgeGraph::add_entity(std::string_view key, std::string_view type) {
  auto [it, inserted] = entity_ids_.try_emplace(std::string(key), static_cast<EntityId>(keys_.size()));
  if (inserted) {
    keys_.emplace_back(key);
    types_.emplace_back(type);
    names_.emplace_back();
  }
  return it->second;
}

RelationId KnowledgeGraph::add_relation(std::string_view name) {
  auto [it, inserted] = relation_ids_.try_emplace(std::string(name), static_cast<RelationId>(relations_.size()));
  if (inserted) relations_.emplace_back(name);
  return it->second;
}

Status KnowledgeGraph::add_triple(EntityId head, RelationId relation, EntityId tail) {
  if (head >= keys_.size() || tail >= keys_.size() || relation >= relations_.size()) {
    return Status::bad_input("triple (" + std::to_string(head) + ", " + std::to_string(relation) + ", " +
                             std::to_string(tail) + ") refers to an unknown entity or relation");
  }
  if (head == tail) {
    ++self_loops_;
    return Status::ok();
  }
  triples_.push_back(Triple{head, relation, tail});
  return Status::ok();
}

void KnowledgeGraph::set_name(EntityId entity, std::string name) {
  if (names_[entity].empty() && !name.empty()) ++named_;
  if (!names_[entity].empty() && name.empty()) --named_;
  names_[entity] = std::move(name);
}

std::optional<EntityId> KnowledgeGraph::find(std::string_view key) const {
  auto it = entity_ids_.find(std::string(key));
  if (it == entity_ids_.end()) return std::nullopt;
  return it->second;
}

void KnowledgeGraph::finalize() {
  auto order = [](const Triple& a, const Triple& b) {
    return std::tie(a.head, a.relation, a.tail) < std::tie(b.head, b.relation, b.tail);
  };
  auto same = [](const Triple& a, const Triple& b) {
    return a.head == b.head && a.relation == b.relation && a.tail == b.tail;
  };
  std::sort(triples_.begin(), triples_.end(), order);
  triples_.erase(std::unique(triples_.begin(), triples_.end(), same), triples_.end());

  const std::size_t n = keys_.size();
  offsets_.assign(n + 1, 0);
  for (const Triple& t : triples_) {
    ++offsets_[t.head + 1];
    ++offsets_[t.tail + 1];
  }
  for (std::size_t i = 0; i < n; ++i) offsets_[i + 1] += offsets_[i];
  adjacency_.assign(offsets_[n], KgNeighbour{});
  std::vector<std::uint64_t> fill(offsets_.begin(), offsets_.end() - 1);
  for (const Triple& t : triples_) {
    adjacency_[fill[t.head]++] = KgNeighbour{t.tail, t.relation, false};
    adjacency_[fill[t.tail]++] = KgNeighbour{t.head, t.relation, true};
  }
  multiplicity_.assign(adjacency_.size(), 0);
  for (std::size_t e = 0; e < n; ++e) {
    auto begin = adjacency_.begin() + static_cast<std::ptrdiff_t>(offsets_[e]);
    auto end = adjacency_.begin() + static_cast<std::ptrdiff_t>(offsets_[e + 1]);
    std::sort(begin, end, [](const KgNeighbour& a, const KgNeighbour& b) {
      return std::tie(a.relation, a.incoming, a.entity) < std::tie(b.relation, b.incoming, b.entity);
    });
    for (auto run = begin; run != end;) {
      auto stop = std::find_if(run, end, [&](const KgNeighbour& x) {
        return x.relation != run->relation || x.incoming != run->incoming;
      });
      for (auto it = run; it != stop; ++it) {
        multiplicity_[static_cast<std::size_t>(it - adjacency_.begin())] = static_cast<std::uint32_t>(stop - run);
      }
      run = stop;
    }
  }
}

std::span<const KgNeighbour> KnowledgeGraph::neighbours(EntityId entity) const {
  if (offsets_.empty()) return {};
  return {adjacency_.data() + offsets_[entity], static_cast<std::size_t>(offsets_[entity + 1] - offsets_[entity])};
}

std::uint32_t KnowledgeGraph::multiplicity(EntityId entity, std::size_t index) const {
  return multiplicity_[offsets_[entity] + index];
}

namespace {

// Tab-separated lines of a file, each split into exactly `columns` fields (extra trailing
// fields are an error), UTF-8 checked.
Status read_tsv(const std::filesystem::path& path, std::size_t columns, const std::vector<std::string>& field_names,
                const std::function<Status(std::span<const std::string_view>, std::uint64_t line)>& visit) {
  AISLE_ASSIGN_OR_RETURN(auto source, io::open_file(path));
  io::LineReader reader(std::move(source), io::TextOptions{});
  std::string_view line;
  std::vector<std::string_view> fields;
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool more, reader.next(&line));
    if (!more) break;
    if (line.empty()) continue;
    fields.clear();
    std::size_t start = 0;
    while (true) {
      std::size_t tab = line.find('\t', start);
      fields.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
      if (tab == std::string_view::npos) break;
      start = tab + 1;
    }
    // A names file may hold tabs inside the last field; keep them there.
    if (fields.size() > columns && columns > 0) {
      const char* last_begin = fields[columns - 1].data();
      fields.resize(columns);
      fields[columns - 1] = std::string_view(last_begin, static_cast<std::size_t>(line.data() + line.size() - last_begin));
    }
    if (fields.size() < columns) {
      return Status::bad_input(errors::expected_found(std::to_string(columns) + " tab-separated fields",
                                                      std::to_string(fields.size())),
                               Where(path.string(), reader.line_number(), field_names[fields.size()]));
    }
    for (std::size_t i = 0; i < columns; ++i) {
      if (auto problem = io::find_invalid_utf8(fields[i])) {
        return Status::bad_input("invalid UTF-8", Where(path.string(), reader.line_number(), field_names[i]));
      }
    }
    AISLE_RETURN_IF_ERROR(visit(fields, reader.line_number()));
  }
  return Status::ok();
}

Result<std::uint64_t> parse_id(std::string_view text, const std::filesystem::path& path, std::uint64_t line,
                               const std::string& field) {
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > std::numeric_limits<std::uint32_t>::max()) {
    return Status::bad_input(errors::expected_found("a non-negative integer id", errors::quote(text)),
                             Where(path.string(), line, field));
  }
  return value;
}

std::filesystem::path side_file(const std::filesystem::path& folder, const std::string& stem, int side) {
  std::filesystem::path suffixed = folder / (stem + "_" + std::to_string(side));
  if (std::filesystem::exists(suffixed)) return suffixed;
  std::filesystem::path plain = folder / stem;
  if (std::filesystem::exists(plain)) return plain;
  return {};
}

Status read_names(const std::filesystem::path& folder, KnowledgeGraph* graph) {
  for (const char* file : {"names_en", "names"}) {
    std::filesystem::path path = folder / file;
    if (!std::filesystem::exists(path)) continue;
    return read_tsv(path, 2, {"id", "name"}, [&](std::span<const std::string_view> f, std::uint64_t) -> Status {
      if (auto entity = graph->find(f[0])) graph->set_name(*entity, std::string(f[1]));
      return Status::ok();
    });
  }
  return Status::ok();
}

}  // namespace

Result<KnowledgeGraph> read_kg_folder(const std::filesystem::path& folder, int side, bool with_names) {
  KnowledgeGraph graph;
  std::filesystem::path ent_ids = side_file(folder, "ent_ids", side);
  std::filesystem::path triples = side_file(folder, "triples", side);
  std::filesystem::path rel_triples = side_file(folder, "rel_triples", side);
  if (!ent_ids.empty() && !triples.empty()) {
    // DBP15K: numeric ids shared by both sides; keys are the ids as written.
    std::unordered_map<std::uint64_t, EntityId> by_number;
    AISLE_RETURN_IF_ERROR(read_tsv(ent_ids, 2, {"id", "key"}, [&](std::span<const std::string_view> f, std::uint64_t line) -> Status {
      AISLE_ASSIGN_OR_RETURN(std::uint64_t number, parse_id(f[0], ent_ids, line, "id"));
      if (by_number.count(number)) {
        return Status::bad_input("duplicate entity id " + std::string(f[0]), Where(ent_ids.string(), line, "id"));
      }
      by_number[number] = graph.add_entity(f[0]);
      return Status::ok();
    }));
    std::unordered_map<std::uint64_t, RelationId> relations;
    AISLE_RETURN_IF_ERROR(read_tsv(triples, 3, {"head", "relation", "tail"}, [&](std::span<const std::string_view> f, std::uint64_t line) -> Status {
      EntityId ends[2];
      for (int i = 0; i < 2; ++i) {
        const std::string field = i == 0 ? "head" : "tail";
        AISLE_ASSIGN_OR_RETURN(std::uint64_t number, parse_id(f[i == 0 ? 0 : 2], triples, line, field));
        auto it = by_number.find(number);
        if (it == by_number.end()) {
          return Status::bad_input("entity " + std::to_string(number) + " is not in " + ent_ids.filename().string(),
                                   Where(triples.string(), line, field));
        }
        ends[i] = it->second;
      }
      AISLE_ASSIGN_OR_RETURN(std::uint64_t relation, parse_id(f[1], triples, line, "relation"));
      auto [it, inserted] = relations.try_emplace(relation, 0);
      if (inserted) it->second = graph.add_relation(f[1]);
      return graph.add_triple(ends[0], it->second, ends[1]);
    }));
  } else if (!rel_triples.empty()) {
    AISLE_RETURN_IF_ERROR(read_tsv(rel_triples, 3, {"head", "relation", "tail"}, [&](std::span<const std::string_view> f, std::uint64_t line) -> Status {
      for (int i : {0, 1, 2}) {
        if (f[static_cast<std::size_t>(i)].empty()) {
          return Status::bad_input("empty field", Where(rel_triples.string(), line, i == 0 ? "head" : i == 1 ? "relation" : "tail"));
        }
      }
      EntityId head = graph.add_entity(f[0]);
      EntityId tail = graph.add_entity(f[2]);
      return graph.add_triple(head, graph.add_relation(f[1]), tail);
    }));
  } else {
    return Status::not_found("no knowledge graph in " + folder.string() + " (expected ent_ids_" + std::to_string(side) +
                             " and triples_" + std::to_string(side) + ", or rel_triples_" + std::to_string(side) + ")");
  }
  if (with_names) AISLE_RETURN_IF_ERROR(read_names(folder, &graph));
  graph.finalize();
  return graph;
}

Result<EntityLinks> read_entity_links(const std::filesystem::path& path, const KnowledgeGraph& left,
                                      const KnowledgeGraph& right) {
  EntityLinks links;
  AISLE_RETURN_IF_ERROR(read_tsv(path, 2, {"left", "right"}, [&](std::span<const std::string_view> f, std::uint64_t line) -> Status {
    auto a = left.find(f[0]);
    if (!a) return Status::bad_input("unknown entity " + errors::quote(f[0]) + " of the left graph", Where(path.string(), line, "left"));
    auto b = right.find(f[1]);
    if (!b) return Status::bad_input("unknown entity " + errors::quote(f[1]) + " of the right graph", Where(path.string(), line, "right"));
    links.emplace_back(*a, *b);
    return Status::ok();
  }));
  return links;
}

}  // namespace aisle::graph
