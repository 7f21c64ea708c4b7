// The test run's token: from NVA_TEST_RUN_ID or made up once per process.
#include "tests/support/run_id.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace nva::test {

const std::string& run_id() {
  static const std::string id = [] {
    if (const char* env = std::getenv("NVA_TEST_RUN_ID")) {
      std::string s;
      for (const char* p = env; *p != '\0' && s.size() < 8; ++p) {
        if (std::isalnum(static_cast<unsigned char>(*p))) s.push_back(*p);
      }
      if (!s.empty()) return s;
    }
    const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
    char buf[16];
    std::snprintf(buf, sizeof buf, "%06x",
                  static_cast<unsigned>((t ^ (::getpid() * 2654435761u)) & 0xFFFFFF));
    return std::string(buf);
  }();
  return id;
}

}  // namespace nva::test
