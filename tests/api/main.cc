// main() of the telemetry tests: EAL with its telemetry socket on.
#include "tests/support/eal.h"

int main(int argc, char** argv) {
  return nva::test::run_with_eal(argc, argv, {"--telemetry"});
}
