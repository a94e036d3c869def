// libFuzzer target for the framing of the model files (src/models/model_file.h: magic,
// version, JSON header, weights checksum), without libtorch (the fuzz build leaves it out):
// any bytes give a ModelFile or a kCorruption naming the file, never a crash. A file that
// passes is written back and read again: the framing round-trips.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aisle;
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("aisle-fuzz-model-" + std::to_string(::getpid()) + ".bin");
  static constexpr char kMagic[8] = {'A', 'I', 'S', 'L', 'E', 'E', 'N', 'C'};
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    // The magic and version come first, so that most inputs reach the header.
    out.write(kMagic, 8);
    const std::uint32_t version = 1;
    out.write(reinterpret_cast<const char*>(&version), 4);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  Result<models::ModelFile> file = models::read_model_file(path, kMagic, 1, "encoder");
  if (!file.is_ok()) {
    if (file.status().code() != StatusCode::kCorruption) __builtin_trap();
    return 0;
  }
  if (!models::write_model_file(path, kMagic, 1, file->header, file->weights).is_ok()) __builtin_trap();
  Result<models::ModelFile> again = models::read_model_file(path, kMagic, 1, "encoder");
  if (!again.is_ok() || again->weights != file->weights) __builtin_trap();
  return 0;
}
