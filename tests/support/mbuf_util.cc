// Building rte_mbufs from byte vectors and reading them back.
#include "tests/support/mbuf_util.h"

#include <rte_errno.h>
#include <rte_lcore.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace nva::test {

MempoolPtr make_pktmbuf_pool(unsigned n_mbufs, std::uint16_t data_room) {
  static std::atomic<unsigned> counter{0};
  char name[RTE_MEMPOOL_NAMESIZE];
  std::snprintf(name, sizeof name, "nvat_pool_%u", counter.fetch_add(1));
  rte_mempool* mp = rte_pktmbuf_pool_create(name, n_mbufs, 0, 0, data_room,
                                            static_cast<int>(rte_socket_id()));
  if (mp == nullptr) {
    throw std::runtime_error(std::string("rte_pktmbuf_pool_create: ") +
                             rte_strerror(rte_errno));
  }
  return MempoolPtr(mp);
}

MbufPtr mbuf_from_bytes(rte_mempool* mp, std::span<const std::uint8_t> bytes,
                        std::size_t seg_len) {
  if (seg_len == 0) seg_len = bytes.empty() ? 1 : bytes.size();
  MbufPtr head;
  std::size_t off = 0;
  do {
    const std::size_t n = std::min(seg_len, bytes.size() - off);
    rte_mbuf* seg = rte_pktmbuf_alloc(mp);
    if (seg == nullptr) return nullptr;
    if (n > rte_pktmbuf_tailroom(seg)) {
      rte_pktmbuf_free(seg);
      return nullptr;
    }
    char* dst = rte_pktmbuf_append(seg, static_cast<std::uint16_t>(n));
    if (n > 0) std::memcpy(dst, bytes.data() + off, n);
    if (!head) {
      head.reset(seg);
    } else {
      if (rte_pktmbuf_chain(head.get(), seg) != 0) {
        rte_pktmbuf_free(seg);
        return nullptr;
      }
    }
    off += n;
  } while (off < bytes.size());
  return head;
}

std::vector<std::uint8_t> bytes_from_mbuf(const rte_mbuf* m) {
  std::vector<std::uint8_t> out(rte_pktmbuf_pkt_len(m));
  if (out.empty()) return out;
  const void* p =
      rte_pktmbuf_read(m, 0, static_cast<std::uint32_t>(out.size()), out.data());
  if (p != out.data()) std::memcpy(out.data(), p, out.size());
  return out;
}

std::string hex(std::span<const std::uint8_t> bytes) {
  std::string s;
  char b[4];
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::snprintf(b, sizeof b, i == 0 ? "%02x" : " %02x", bytes[i]);
    s += b;
  }
  return s;
}

}  // namespace nva::test
