// The software owner function.
#include "dataplane/steer/owner.h"

namespace nva::steer {

std::uint32_t owner(const packet::ParsedPacket& pkt, const lb::ServiceTable& services,
                    const OwnerParams& p) noexcept {
  if (p.workers <= 1) return 0;
  if (pkt.l3 != packet::L3Kind::kIpv4 || !pkt.has_ports) return kAnyWorker;
  if (services.is_vip(pkt.ipv4_dst)) return client_owner(pkt.ipv4_src, pkt.src_port, p);
  if (services.is_snat_addr(pkt.ipv4_dst)) return snat_port_owner(pkt.dst_port, p);
  if (services.is_dnat_backend(pkt.ipv4_src, pkt.src_port)) {
    return client_owner(pkt.ipv4_dst, pkt.dst_port, p);
  }
  return kAnyWorker;
}

}  // namespace nva::steer
