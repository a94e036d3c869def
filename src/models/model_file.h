// The framing of the models' files (private to the models subsystem): an 8-byte magic, a
// little-endian u32 format version, a u32 header length, a JSON header, then the weights
// (a torch archive). The header carries "weights_checksum" (checksum64 of the weights), so a
// damaged file is refused before torch reads a byte of it. Layouts per model: docs/formats.md.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "aisle/core/files.h"
#include "aisle/core/status.h"

namespace aisle::models {

struct ModelFile {
  nlohmann::json header;
  std::string weights;
};

// Writes the file atomically, creating its directory.
inline Status write_model_file(const std::filesystem::path& path, const char (&magic)[8], std::uint32_t version,
                               const nlohmann::json& header, std::string_view weights) {
  if (!header.is_object()) return Status::internal("a model header must be a JSON object: " + path.string());
  nlohmann::json framed = header;
  framed["weights_checksum"] = checksum64(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(weights.data()), weights.size()));
  const std::string json = framed.dump();
  std::string file(magic, 8);
  auto put_u32 = [&](std::uint32_t value) { file.append(reinterpret_cast<const char*>(&value), 4); };
  put_u32(version);
  put_u32(static_cast<std::uint32_t>(json.size()));
  file += json;
  file += weights;
  std::error_code error;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), error);
  return write_file_atomically(path, file);
}

// kNotFound for a missing file; kCorruption (naming the file and `kind`, e.g. "encoder") for
// a wrong magic, another version, a truncated or non-JSON header, or weights whose checksum
// differs from the header's (files written before the checksum have none and are read as
// they are).
inline Result<ModelFile> read_model_file(const std::filesystem::path& path, const char (&magic)[8], std::uint32_t version,
                                         const std::string& kind) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("no " + kind + " at " + path.string());
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto corrupt = [&](const std::string& what) { return Status::corruption(path.string() + ": " + what); };
  if (bytes.size() < 16 || std::memcmp(bytes.data(), magic, 8) != 0) return corrupt("not an Aisle " + kind + " file");
  std::uint32_t found_version = 0, json_size = 0;
  std::memcpy(&found_version, bytes.data() + 8, 4);
  std::memcpy(&json_size, bytes.data() + 12, 4);
  if (found_version != version) {
    return corrupt(kind + " format version " + std::to_string(found_version) + ", this build reads " + std::to_string(version));
  }
  if (json_size > bytes.size() - 16) return corrupt("truncated header");
  ModelFile file;
  file.header = nlohmann::json::parse(bytes.begin() + 16, bytes.begin() + 16 + json_size, nullptr, false);
  if (file.header.is_discarded() || !file.header.is_object()) return corrupt("header is not a JSON object");
  file.weights = bytes.substr(16 + json_size);
  if (file.header.contains("weights_checksum")) {
    const nlohmann::json& expected = file.header["weights_checksum"];
    const std::uint64_t actual = checksum64(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(file.weights.data()), file.weights.size()));
    if (!expected.is_number_unsigned() || expected.get<std::uint64_t>() != actual) {
      return corrupt(kind + " weights do not match their checksum (the file is damaged)");
    }
  }
  return file;
}

}  // namespace aisle::models
