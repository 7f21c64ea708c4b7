// Handoff ring creation and teardown.
#include "dataplane/steer/handoff.h"

#include <rte_errno.h>

#include <stdexcept>

namespace nva::steer {

HandoffRings::HandoffRings(const std::string& prefix, std::uint32_t workers,
                           std::uint32_t size) {
  for (std::uint32_t w = 0; w < workers; ++w) {
    const std::string name = prefix + "_ho" + std::to_string(w);
    rte_ring* r = rte_ring_create(name.c_str(), size, SOCKET_ID_ANY, RING_F_SC_DEQ);
    if (r == nullptr) {
      for (rte_ring* x : rings_) rte_ring_free(x);
      throw std::runtime_error("handoff ring " + name + " (" + std::to_string(size) +
                               " slots): " + rte_strerror(rte_errno));
    }
    rings_.push_back(r);
  }
}

HandoffRings::~HandoffRings() {
  for (rte_ring* r : rings_) {
    void* m = nullptr;
    while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    rte_ring_free(r);
  }
}

}  // namespace nva::steer
