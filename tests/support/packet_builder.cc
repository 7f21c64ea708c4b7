// Fluent packet builder: serialises layers, then fills lengths and checksums.
#include "tests/support/packet_builder.h"

#include <arpa/inet.h>

#include <stdexcept>
#include <string>

#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"
#include "dataplane/packet/protocols.h"

namespace nva::packet {

std::uint32_t ipv4_from_string(std::string_view s) {
  const std::string str(s);
  in_addr a{};
  if (inet_pton(AF_INET, str.c_str(), &a) != 1) {
    throw std::invalid_argument("not an IPv4 address: '" + str + "'");
  }
  return ntohl(a.s_addr);
}

std::string ipv4_to_string(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
         std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

Ipv6Addr ipv6_from_string(std::string_view s) {
  const std::string str(s);
  Ipv6Addr out{};
  if (inet_pton(AF_INET6, str.c_str(), out.data()) != 1) {
    throw std::invalid_argument("not an IPv6 address: '" + str + "'");
  }
  return out;
}

namespace {

void pad4(std::vector<std::uint8_t>& v) {
  while (v.size() % 4 != 0) v.push_back(0);  // EOL / padding
}

}  // namespace

PacketBuilder& PacketBuilder::Eth(EthOpts o) {
  Layer l{.kind = Kind::kEth, .bytes = std::vector<std::uint8_t>(kEthHeaderLen)};
  std::copy(o.dst.begin(), o.dst.end(), l.bytes.begin());
  std::copy(o.src.begin(), o.src.end(), l.bytes.begin() + 6);
  l.eth = std::move(o);
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::Vlan(std::uint16_t vid, std::uint16_t tpid,
                                   std::uint8_t pcp) {
  Layer l{.kind = Kind::kVlan, .bytes = std::vector<std::uint8_t>(kVlanTagLen)};
  store_be16(l.bytes.data(), static_cast<std::uint16_t>((pcp << 13) | (vid & 0x0FFF)));
  l.tpid = tpid;
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::IPv4(std::string_view src, std::string_view dst,
                                   Ipv4Opts o) {
  Layer l{.kind = Kind::kIpv4, .bytes = std::vector<std::uint8_t>(kIpv4MinHeaderLen)};
  auto& b = l.bytes;
  b.insert(b.end(), o.options.begin(), o.options.end());
  pad4(b);
  const auto ihl = o.ihl.value_or(static_cast<std::uint8_t>(b.size() / 4));
  b[0] = static_cast<std::uint8_t>((o.version.value_or(4) << 4) | (ihl & 0x0F));
  b[1] = o.tos;
  store_be16(&b[4], o.id);
  store_be16(&b[6], static_cast<std::uint16_t>((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) |
                                               ((o.frag_offset / 8) & 0x1FFF)));
  b[8] = o.ttl;
  store_be32(&b[12], ipv4_from_string(src));
  store_be32(&b[16], ipv4_from_string(dst));
  l.ip4 = std::move(o);
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::IPv6(std::string_view src, std::string_view dst,
                                   Ipv6Opts o) {
  Layer l{.kind = Kind::kIpv6, .bytes = std::vector<std::uint8_t>(kIpv6HeaderLen)};
  auto& b = l.bytes;
  store_be32(&b[0], (6u << 28) | (std::uint32_t{o.traffic_class} << 20) |
                        (o.flow_label & 0xFFFFF));
  b[7] = o.hop_limit;
  const auto s = ipv6_from_string(src);
  const auto d = ipv6_from_string(dst);
  std::copy(s.begin(), s.end(), b.begin() + 8);
  std::copy(d.begin(), d.end(), b.begin() + 24);
  l.ip6 = std::move(o);
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::Ipv6Ext(std::uint8_t type, std::vector<std::uint8_t> body) {
  Layer l{.kind = Kind::kIpv6Ext, .bytes = {0, 0}};
  l.bytes.insert(l.bytes.end(), body.begin(), body.end());
  while (l.bytes.size() % 8 != 0) l.bytes.push_back(0);  // Pad1 options
  if (type == ipproto::kAh) {
    l.bytes[1] = static_cast<std::uint8_t>(l.bytes.size() / 4 - 2);
  } else {
    l.bytes[1] = static_cast<std::uint8_t>(l.bytes.size() / 8 - 1);
  }
  l.ext_type = type;
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::Ipv6Frag(std::uint16_t offset, bool more, std::uint32_t id,
                                       std::optional<std::uint8_t> next_header) {
  Layer l{.kind = Kind::kIpv6Frag, .bytes = std::vector<std::uint8_t>(8)};
  store_be16(&l.bytes[2], static_cast<std::uint16_t>((offset & 0xFFF8) | (more ? 1 : 0)));
  store_be32(&l.bytes[4], id);
  l.ext_type = ipproto::kFragment;
  l.ip6.next_header = next_header;
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::TCP(std::uint16_t sport, std::uint16_t dport, TcpOpts o) {
  Layer l{.kind = Kind::kTcp, .bytes = std::vector<std::uint8_t>(kTcpMinHeaderLen)};
  auto& b = l.bytes;
  b.insert(b.end(), o.options.begin(), o.options.end());
  pad4(b);
  store_be16(&b[0], sport);
  store_be16(&b[2], dport);
  store_be32(&b[4], o.seq);
  store_be32(&b[8], o.ack);
  b[12] = static_cast<std::uint8_t>(
      o.data_offset.value_or(static_cast<std::uint8_t>(b.size() / 4)) << 4);
  b[13] = o.flags;
  store_be16(&b[14], o.window);
  l.tcp = std::move(o);
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::UDP(std::uint16_t sport, std::uint16_t dport, UdpOpts o) {
  Layer l{.kind = Kind::kUdp, .bytes = std::vector<std::uint8_t>(kUdpHeaderLen)};
  store_be16(&l.bytes[0], sport);
  store_be16(&l.bytes[2], dport);
  l.udp = std::move(o);
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::ICMP(std::uint8_t type, std::uint8_t code, std::uint16_t id,
                                   std::uint16_t seq) {
  Layer l{.kind = Kind::kIcmp, .bytes = std::vector<std::uint8_t>(kIcmpHeaderLen)};
  l.bytes[0] = type;
  l.bytes[1] = code;
  store_be16(&l.bytes[4], id);
  store_be16(&l.bytes[6], seq);
  layers_.push_back(std::move(l));
  return *this;
}

PacketBuilder& PacketBuilder::ICMPv6(std::uint8_t type, std::uint8_t code,
                                     std::uint16_t id, std::uint16_t seq) {
  ICMP(type, code, id, seq);
  layers_.back().kind = Kind::kIcmpv6;
  return *this;
}

PacketBuilder& PacketBuilder::Payload(std::span<const std::uint8_t> bytes) {
  layers_.push_back(
      Layer{.kind = Kind::kPayload,
            .bytes = std::vector<std::uint8_t>(bytes.begin(), bytes.end())});
  return *this;
}

PacketBuilder& PacketBuilder::Payload(std::string_view text) {
  return Payload(
      std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

PacketBuilder& PacketBuilder::Payload(std::size_t n, std::uint8_t fill) {
  layers_.push_back(
      Layer{.kind = Kind::kPayload, .bytes = std::vector<std::uint8_t>(n, fill)});
  return *this;
}

PacketBuilder& PacketBuilder::PadTo(std::size_t frame_len) {
  pad_to_ = frame_len;
  return *this;
}

std::vector<std::uint8_t> PacketBuilder::Build() const {
  std::vector<std::uint8_t> out;
  std::vector<std::size_t> off(layers_.size());
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    off[i] = out.size();
    out.insert(out.end(), layers_[i].bytes.begin(), layers_[i].bytes.end());
  }
  const std::size_t end = out.size();  // end of the IP datagram
  if (out.size() < pad_to_) out.resize(pad_to_, 0);

  // What a layer's "next protocol" field says about layer i.
  auto ethertype_of = [&](std::size_t i) -> std::uint16_t {
    if (i >= layers_.size()) return 0;
    switch (layers_[i].kind) {
      case Kind::kVlan:
        return layers_[i].tpid;
      case Kind::kIpv4:
        return ethertype::kIpv4;
      case Kind::kIpv6:
        return ethertype::kIpv6;
      default:
        return 0;
    }
  };
  auto ipproto_of = [&](std::size_t i, std::uint8_t none) -> std::uint8_t {
    if (i >= layers_.size()) return none;
    switch (layers_[i].kind) {
      case Kind::kIpv6Ext:
      case Kind::kIpv6Frag:
        return layers_[i].ext_type;
      case Kind::kTcp:
        return ipproto::kTcp;
      case Kind::kUdp:
        return ipproto::kUdp;
      case Kind::kIcmp:
        return ipproto::kIcmp;
      case Kind::kIcmpv6:
        return ipproto::kIcmpv6;
      case Kind::kIpv4:
        return 4;  // IP-in-IP
      case Kind::kIpv6:
        return 41;  // IPv6-in-IP
      default:
        return none;
    }
  };

  // Pass 1, outer to inner: next-protocol fields and lengths.
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    std::uint8_t* p = out.data() + off[i];
    switch (l.kind) {
      case Kind::kEth:
        store_be16(p + 12, l.eth.ethertype.value_or(ethertype_of(i + 1)));
        break;
      case Kind::kVlan:
        store_be16(p + 2, ethertype_of(i + 1));
        break;
      case Kind::kIpv4:
        store_be16(p + 2,
                   l.ip4.total_length.value_or(static_cast<std::uint16_t>(end - off[i])));
        p[9] = l.ip4.protocol.value_or(ipproto_of(i + 1, 253));
        break;
      case Kind::kIpv6:
        store_be16(p + 4, l.ip6.payload_length.value_or(
                              static_cast<std::uint16_t>(end - off[i] - kIpv6HeaderLen)));
        p[6] = l.ip6.next_header.value_or(ipproto_of(i + 1, ipproto::kNoNext));
        break;
      case Kind::kIpv6Ext:
      case Kind::kIpv6Frag:
        p[0] = l.ip6.next_header.value_or(ipproto_of(i + 1, ipproto::kNoNext));
        break;
      case Kind::kUdp:
        store_be16(p + 4,
                   l.udp.length.value_or(static_cast<std::uint16_t>(end - off[i])));
        break;
      default:
        break;
    }
  }

  // Pass 2, inner to outer: checksums (L4 needs the final lengths above).
  for (std::size_t j = layers_.size(); j-- > 0;) {
    const Layer& l = layers_[j];
    std::uint8_t* p = out.data() + off[j];
    // The IP layer this L4 header belongs to: the nearest one before it.
    std::size_t ipi = j;
    while (ipi > 0 && layers_[ipi - 1].kind != Kind::kIpv4 &&
           layers_[ipi - 1].kind != Kind::kIpv6) {
      --ipi;
    }
    const bool have_ip = ipi > 0;
    const Layer* ipl = have_ip ? &layers_[ipi - 1] : nullptr;
    const std::uint8_t* iph = have_ip ? out.data() + off[ipi - 1] : nullptr;
    const std::size_t l4len = end - off[j];
    auto l4_sum = [&](std::size_t field, std::uint8_t proto) -> std::uint16_t {
      if (!have_ip) return inet_checksum(p, l4len, field);
      if (ipl->kind == Kind::kIpv4) {
        return ipv4_l4_checksum(p, l4len, field, load_be32(iph + 12), load_be32(iph + 16),
                                proto);
      }
      return ipv6_l4_checksum(p, l4len, field, iph + 8, iph + 24, proto);
    };
    switch (l.kind) {
      case Kind::kTcp:
        store_be16(p + 16, l.tcp.checksum.value_or(l4_sum(16, ipproto::kTcp)));
        break;
      case Kind::kUdp: {
        std::uint16_t c = 0;
        if (l.udp.checksum) {
          c = *l.udp.checksum;
        } else if (!l.udp.no_checksum) {
          c = l4_sum(6, ipproto::kUdp);
          if (c == 0) c = 0xFFFF;
        }
        store_be16(p + 6, c);
        break;
      }
      case Kind::kIcmp:
        store_be16(p + 2, inet_checksum(p, l4len, 2));
        break;
      case Kind::kIcmpv6:
        store_be16(p + 2, l4_sum(2, ipproto::kIcmpv6));
        break;
      case Kind::kIpv4: {
        const std::size_t hlen = l.bytes.size();
        store_be16(p + 10, l.ip4.checksum.value_or(ipv4_header_checksum(p, hlen)));
        break;
      }
      default:
        break;
    }
  }
  return out;
}

}  // namespace nva::packet
