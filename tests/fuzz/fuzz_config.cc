// libFuzzer target for the configuration parser: any text gets a Config or
// a ConfigError that names the place ("<name>:<line>: ..." or "<name>: ...");
// any other exception (the kind that escaped a reload before) aborts, and so
// does a crash or an ASan/UBSan report. A file that parses also gets a
// summary (what --check-config prints) without throwing.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>

#include "controlplane/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const nva::config::Config c = nva::config::parse(text, "fuzz.ini");
    (void)nva::config::summary(c);
  } catch (const nva::config::ConfigError& e) {
    if (std::string(e.what()).rfind("fuzz.ini", 0) != 0) {
      std::fprintf(stderr, "fuzz-config: an error that does not name the file: %s\n",
                   e.what());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz-config: %s escaped the parser: %s\n", typeid(e).name(),
                 e.what());
    std::abort();
  }
  return 0;
}
