// main() of the data-plane tests: EAL with one net_ring loopback vdev.
#include "tests/support/eal.h"

int main(int argc, char** argv) {
  return nva::test::run_with_eal(argc, argv, {"--vdev=net_ring0"});
}
