#include "aisle/graph/knowledge_graph.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace aisle::graph {
namespace {

using testing::TempDir;

TEST(KnowledgeGraph, BothDirectionsSortedWithRelationMultiplicity) {
  KnowledgeGraph g;
  EntityId film = g.add_entity("film", "film");
  EntityId director = g.add_entity("director", "person");
  EntityId a1 = g.add_entity("actor1", "person"), a2 = g.add_entity("actor2", "person"), a3 = g.add_entity("actor3", "person");
  RelationId directed_by = g.add_relation("directed_by"), starring = g.add_relation("starring");
  ASSERT_TRUE(g.add_triple(film, directed_by, director).is_ok());
  for (EntityId a : {a3, a1, a2, a1}) ASSERT_TRUE(g.add_triple(film, starring, a).is_ok());  // a1 twice: merged
  ASSERT_TRUE(g.add_triple(film, starring, film).is_ok());                                  // self-loop: dropped
  EXPECT_FALSE(g.add_triple(film, 7, a1).is_ok());
  g.finalize();
  EXPECT_EQ(g.num_triples(), 4u);
  EXPECT_EQ(g.self_loops(), 1u);
  EXPECT_EQ(g.type(director), "person");
  auto list = g.neighbours(film);
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[0].entity, director);
  EXPECT_EQ(g.multiplicity(film, 0), 1u);  // one director
  for (std::size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(list[i].relation, starring);
    EXPECT_FALSE(list[i].incoming);
    EXPECT_EQ(g.multiplicity(film, i), 3u);  // one of three actors
  }
  EXPECT_EQ(list[1].entity, a1);
  EXPECT_EQ(list[3].entity, a3);
  ASSERT_EQ(g.neighbours(a2).size(), 1u);
  EXPECT_TRUE(g.neighbours(a2)[0].incoming);
  EXPECT_EQ(g.neighbours(a2)[0].entity, film);
  EXPECT_EQ(g.find("actor3"), a3);
  EXPECT_FALSE(g.find("nobody").has_value());
}

TEST(KnowledgeGraph, ReadsDbp15kFoldersWithNamesAndLinks) {
  TempDir dir;
  dir.write("ent_ids_1", "0\thttp://zh/a\n1\thttp://zh/b\n2\thttp://zh/c\n");
  dir.write("ent_ids_2", "10\thttp://en/A\n11\thttp://en/B\n");
  dir.write("triples_1", "0\t5\t1\n1\t5\t2\n0\t6\t2\n");
  dir.write("triples_2", "10\t9\t11\n");
  dir.write("names_en", "0\tabdullah gul\n1\tkim\n10\tabdullah gül\n11\tkim dae jung\n");
  dir.write("train_links", "0\t10\n");
  auto left = read_kg_folder(dir.path(), 1, true);
  ASSERT_TRUE(left.is_ok()) << left.status().to_string();
  auto right = read_kg_folder(dir.path(), 2, true);
  ASSERT_TRUE(right.is_ok()) << right.status().to_string();
  EXPECT_EQ(left->num_entities(), 3u);
  EXPECT_EQ(left->num_relations(), 2u);
  EXPECT_EQ(left->num_triples(), 3u);
  EXPECT_EQ(left->name(*left->find("0")), "abdullah gul");
  EXPECT_EQ(left->named_entities(), 2u);
  EXPECT_EQ(right->name(*right->find("11")), "kim dae jung");
  auto unnamed = read_kg_folder(dir.path(), 1, false);
  ASSERT_TRUE(unnamed.is_ok());
  EXPECT_FALSE(unnamed->has_names());
  auto links = read_entity_links(dir / "train_links", *left, *right);
  ASSERT_TRUE(links.is_ok());
  ASSERT_EQ(links->size(), 1u);
  EXPECT_EQ(left->key((*links)[0].first), "0");
  EXPECT_EQ(right->key((*links)[0].second), "10");
}

TEST(KnowledgeGraph, ReadsOpenEaRelationTriples) {
  TempDir dir;
  dir.write("rel_triples_1", "http://x/a\thttp://x/r\thttp://x/b\nhttp://x/b\thttp://x/s\thttp://x/c\n");
  auto g = read_kg_folder(dir.path(), 1, true);
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  EXPECT_EQ(g->num_entities(), 3u);
  EXPECT_EQ(g->num_relations(), 2u);
  EXPECT_EQ(g->degree(*g->find("http://x/b")), 2u);
}

TEST(KnowledgeGraph, BadInputNamesFileLineAndField) {
  TempDir dir;
  dir.write("ent_ids_1", "0\ta\n1\tb\n");
  dir.write("triples_1", "0\t5\t1\n0\tfive\t1\n");
  auto bad_relation = read_kg_folder(dir.path(), 1, false);
  ASSERT_FALSE(bad_relation.is_ok());
  EXPECT_NE(bad_relation.status().to_string().find("triples_1:2:relation"), std::string::npos) << bad_relation.status().to_string();

  dir.write("triples_1", "0\t5\t1\n0\t5\t9\n");
  auto unknown = read_kg_folder(dir.path(), 1, false);
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().to_string().find("triples_1:2:tail"), std::string::npos) << unknown.status().to_string();

  dir.write("triples_1", "0\t5\n");
  auto short_line = read_kg_folder(dir.path(), 1, false);
  ASSERT_FALSE(short_line.is_ok());
  EXPECT_NE(short_line.status().to_string().find("triples_1:1:tail"), std::string::npos) << short_line.status().to_string();

  dir.write("ent_ids_1", "0\ta\n0\tb\n");
  dir.write("triples_1", "");
  auto duplicate = read_kg_folder(dir.path(), 1, false);
  ASSERT_FALSE(duplicate.is_ok());
  EXPECT_NE(duplicate.status().to_string().find("ent_ids_1:2:id"), std::string::npos);

  EXPECT_EQ(read_kg_folder(dir / "missing", 1, false).status().code(), StatusCode::kNotFound);

  KnowledgeGraph left, right;
  left.add_entity("a");
  right.add_entity("A");
  dir.write("links", "a\tA\na\tB\n");
  auto links = read_entity_links(dir / "links", left, right);
  ASSERT_FALSE(links.is_ok());
  EXPECT_NE(links.status().to_string().find("links:2:right"), std::string::npos) << links.status().to_string();
}

}  // namespace
}  // namespace aisle::graph
