#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "aisle/core/files.h"
#include "test_util.h"

namespace aisle {
namespace {

using aisle::testing::TempDir;

TEST(DirectoryLock, OneWriterAtATimeNamedToTheNextAndReleasedWithItsHolder) {
  TempDir dir;
  {
    auto first = DirectoryLock::acquire(dir.path(), "aisle serve");
    ASSERT_TRUE(first.is_ok()) << first.status().to_string();
    // flock(2) locks belong to an open file: a second open, even in this process, waits its turn.
    auto second = DirectoryLock::acquire(dir.path(), "aisle index");
    ASSERT_FALSE(second.is_ok());
    EXPECT_EQ(second.status().code(), StatusCode::kBadInput);
    EXPECT_NE(second.status().message().find("is in use by another writer (pid "), std::string::npos) << second.status().message();
    EXPECT_NE(second.status().message().find(": aisle serve)"), std::string::npos) << second.status().message();
    // Moved, the lock is still held.
    DirectoryLock moved = std::move(*first);
    EXPECT_FALSE(DirectoryLock::acquire(dir.path(), "aisle delete").is_ok());
  }
  auto again = DirectoryLock::acquire(dir.path(), "aisle delete");
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  std::ifstream in(dir.path() / "aisle.lock");
  std::string line;
  std::getline(in, line);
  EXPECT_NE(line.find(": aisle delete"), std::string::npos) << line;
  // A directory that does not exist is an I/O error naming the lock file.
  auto missing = DirectoryLock::acquire(dir.path() / "nowhere", "aisle index");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("nowhere/aisle.lock"), std::string::npos) << missing.status().message();
}

}  // namespace
}  // namespace aisle
