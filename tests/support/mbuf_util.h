// Test helpers: mempools, rte_mbufs from byte vectors, and back.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace nva::test {

struct MbufFree {
  void operator()(rte_mbuf* m) const noexcept { rte_pktmbuf_free(m); }
};
using MbufPtr = std::unique_ptr<rte_mbuf, MbufFree>;

struct MempoolFree {
  void operator()(rte_mempool* mp) const noexcept { rte_mempool_free(mp); }
};
using MempoolPtr = std::unique_ptr<rte_mempool, MempoolFree>;

// A packet mempool with a name unique in this process.
MempoolPtr make_pktmbuf_pool(unsigned n_mbufs = 1023,
                             std::uint16_t data_room = RTE_MBUF_DEFAULT_BUF_SIZE);

// Copies `bytes` into a new mbuf, or a chain of segments of at most
// `seg_len` bytes each when seg_len > 0. nullptr if the pool runs dry or a
// segment does not fit the pool's data room.
MbufPtr mbuf_from_bytes(rte_mempool* mp, std::span<const std::uint8_t> bytes,
                        std::size_t seg_len = 0);

// All bytes of a packet (every segment), in order.
std::vector<std::uint8_t> bytes_from_mbuf(const rte_mbuf* m);

// Hex dump for assertion messages: "45 00 00 28 ...".
std::string hex(std::span<const std::uint8_t> bytes);

}  // namespace nva::test
