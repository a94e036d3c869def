#include "aisle/io/record_pairs.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace aisle::io {
namespace {

using testing::TempDir;

TEST(RecordPairs, ParsesSerializedPairsWithEmptyValues) {
  TempDir dir;
  dir.write("pairs.txt",
            "COL title VAL sony bravia 40 ' lcd COL manufacturer VAL  COL price VAL 899.0 \t"
            "COL title VAL sony kdl40 COL manufacturer VAL sony COL price VAL \t1\n"
            "\n"
            "COL title VAL a COLLAR VAL b\tCOL title VAL c\t0\n");
  auto pairs = read_serialized_pairs(dir / "pairs.txt");
  ASSERT_TRUE(pairs.is_ok()) << pairs.status().to_string();
  ASSERT_EQ(pairs->size(), 2u);
  const RecordPair& p = (*pairs)[0];
  EXPECT_EQ(p.label, 1);
  ASSERT_EQ(p.left.fields.size(), 3u);
  EXPECT_EQ(p.left.value("title"), "sony bravia 40 ' lcd");
  EXPECT_EQ(p.left.value("manufacturer"), "");
  EXPECT_EQ(p.left.value("price"), "899.0");
  EXPECT_EQ(p.right.value("manufacturer"), "sony");
  EXPECT_EQ(p.right.value("price"), "");
  // "COLLAR" is a word, not a marker.
  EXPECT_EQ((*pairs)[1].left.value("title"), "a COLLAR VAL b");
  EXPECT_EQ((*pairs)[1].line, 3u);
}

TEST(RecordPairs, BadLinesNameTheField) {
  TempDir dir;
  dir.write("label.txt", "COL t VAL a\tCOL t VAL b\tyes\n");
  auto label = read_serialized_pairs(dir / "label.txt");
  ASSERT_FALSE(label.is_ok());
  EXPECT_NE(label.status().to_string().find("label.txt:1:label"), std::string::npos) << label.status().to_string();
  dir.write("left.txt", "COL t VAL a\tCOL t VAL b\t1\ntitle a\tCOL t VAL b\t0\n");
  auto left = read_serialized_pairs(dir / "left.txt");
  ASSERT_FALSE(left.is_ok());
  EXPECT_NE(left.status().to_string().find("left.txt:2:left"), std::string::npos) << left.status().to_string();
  dir.write("fields.txt", "COL t VAL a\t1\n");
  auto fields = read_serialized_pairs(dir / "fields.txt");
  ASSERT_FALSE(fields.is_ok());
  EXPECT_NE(fields.status().to_string().find("fields.txt:1:label"), std::string::npos) << fields.status().to_string();
  dir.write("utf8.txt", "COL t VAL \xff\tCOL t VAL b\t1\n");
  EXPECT_FALSE(read_serialized_pairs(dir / "utf8.txt").is_ok());
}

TEST(RecordPairs, ReadsTwoTablesAndGoldPairs) {
  TempDir dir;
  dir.write("left.csv", "id,title,price\na1,\"sony tv, 40\",899\na2,lg dishwasher,\n");
  dir.write("right.csv", "id,title,price\nb1,sony kdl40,850\n");
  dir.write("pairs.csv", "ltable_id,rtable_id,label\na1,b1,1\na2,b1,0\n");
  auto pairs = read_record_pairs(dir / "pairs.csv");
  ASSERT_TRUE(pairs.is_ok()) << pairs.status().to_string();
  ASSERT_EQ(pairs->size(), 2u);
  EXPECT_EQ((*pairs)[0].left.value("title"), "sony tv, 40");
  EXPECT_EQ((*pairs)[0].right.value("price"), "850");
  EXPECT_EQ((*pairs)[1].label, 0);
  dir.write("pairs.csv", "ltable_id,rtable_id,label\na1,b9,1\n");
  auto unknown = read_record_pairs(dir / "pairs.csv");
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().to_string().find("pairs.csv:2:rtable_id"), std::string::npos) << unknown.status().to_string();
}

}  // namespace
}  // namespace aisle::io
