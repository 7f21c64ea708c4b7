// A short token naming this test run, for unique namespaces and prefixes.
#pragma once

#include <string>

namespace nva::test {

// $NVA_TEST_RUN_ID when scripts/test set it (so it can clean up whatever a
// crashed binary left), else 6 hex digits derived from the pid and time.
// Alphanumeric, at most 8 characters.
const std::string& run_id();

}  // namespace nva::test
