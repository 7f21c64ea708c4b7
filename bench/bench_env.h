// What every nva-bench benchmark may ask of its environment.
#pragma once

#include <functional>

namespace nva::bench {

// Runs `fn` after the last benchmark, before EAL is cleaned up (for
// benchmarks that cache DPDK objects across runs).
void at_teardown(std::function<void()> fn);

// True when NVA_BENCH_SMOKE is set (the test run): sizes are capped so that
// every benchmark runs once, quickly; figures then mean nothing.
bool smoke();

}  // namespace nva::bench
