// Runs a fuzz target once over every file of the given corpus directories,
// for builds without libFuzzer (gcc): the seeds still run in every test run.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(argv[i], ec)) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                            std::istreambuf_iterator<char>());
      // Exact-size heap copy so ASan sees any read past the end.
      auto* copy = new std::uint8_t[bytes.size() + (bytes.empty() ? 1 : 0)];
      std::copy(bytes.begin(), bytes.end(), copy);
      LLVMFuzzerTestOneInput(copy, bytes.size());
      delete[] copy;
      ++runs;
    }
    if (ec) {
      std::fprintf(stderr, "%s: %s\n", argv[i], ec.message().c_str());
      return 2;
    }
  }
  std::printf("replayed %zu inputs\n", runs);
  return runs > 0 ? 0 : 1;
}
