// RcuDomain: allocation of the rte_rcu_qsbr variable.
#include "dataplane/common/rcu.h"

#include <rte_malloc.h>

namespace nva {

RcuDomain::RcuDomain(std::uint32_t max_threads) {
  const std::size_t sz = rte_rcu_qsbr_get_memsize(max_threads);
  if (sz == 0) throw std::runtime_error("rte_rcu_qsbr_get_memsize failed");
  v_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("nva_rcu", sz, RTE_CACHE_LINE_SIZE));
  if (v_ == nullptr) throw std::runtime_error("rte_zmalloc of the RCU variable failed");
  check(rte_rcu_qsbr_init(v_, max_threads));
}

RcuDomain::~RcuDomain() { rte_free(v_); }

}  // namespace nva
