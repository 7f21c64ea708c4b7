// The software owner function.
#include "dataplane/steer/owner.h"

#include "dataplane/packet/headers.h"

namespace nva::steer {

std::uint32_t owner_of_tuple(std::uint32_t src, std::uint16_t sport, std::uint32_t dst,
                             std::uint16_t dport, std::uint8_t proto,
                             const lb::ServiceTable& services,
                             const OwnerParams& p) noexcept {
  if (p.workers <= 1) return 0;
  const bool flow_vip = p.flow != nullptr && p.flow->steers(FlowClass::kVip);
  const bool flow_snat = p.flow != nullptr && p.flow->steers(FlowClass::kSnatReturn);
  if (services.is_vip(dst)) {
    if (p.rss != nullptr && !flow_vip) {
      const lb::Service* s = services.find(proto, dst, dport);
      if (s != nullptr && s->mode == lb::NatMode::kDnatSnat) {
        return p.rss->worker_of(src, dst, sport, dport);
      }
    }
    return client_worker(src, sport, p);
  }
  if (services.is_snat_addr(dst)) {
    return p.rss != nullptr && !flow_snat ? p.rss->worker_of(src, dst, sport, dport)
                                          : snat_port_owner(dport, p);
  }
  if (services.is_dnat_backend(src, sport)) return client_worker(dst, dport, p);
  return kAnyWorker;
}

std::uint32_t owner(std::span<const std::uint8_t> frame, const packet::ParsedPacket& pkt,
                    const lb::ServiceTable& services, const OwnerParams& p) noexcept {
  if (p.workers <= 1) return 0;
  if (pkt.l3 != packet::L3Kind::kIpv4) return kAnyWorker;
  if (pkt.has_ports) {
    return owner_of_tuple(pkt.ipv4_src, pkt.src_port, pkt.ipv4_dst, pkt.dst_port,
                          pkt.l4_proto, services, p);
  }
  if (pkt.l4_proto == packet::ipproto::kIcmp && packet::icmp::is_error(pkt.icmp_type) &&
      pkt.frag == packet::FragState::kNone) {
    packet::ParsedPacket in;
    if (packet::parse_quoted_ip(frame.first(pkt.l3_end), pkt.l4_offset + 8, in) ==
            packet::DropReason::kNone &&
        in.l3 == packet::L3Kind::kIpv4 && in.has_ports) {
      // The quoted packet reversed is a packet of the connection.
      return owner_of_tuple(in.ipv4_dst, in.dst_port, in.ipv4_src, in.src_port,
                            in.l4_proto, services, p);
    }
  }
  return kAnyWorker;
}

}  // namespace nva::steer
