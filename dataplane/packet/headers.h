// Bounds-checked header views over raw frame bytes (Ethernet to ICMPv6).
//
// A view is made only by `at(buffer, offset)`, which returns std::nullopt when
// the fixed part of the header does not fit in the buffer, so no accessor can
// read past the end. Variable parts (IPv4 options, TCP options, IPv6
// extension headers) are bounded by the parser, which checks their length
// fields against the buffer before it hands out an offset. Views over
// `const std::uint8_t` are read-only; views over `std::uint8_t` also have
// setters (no checksum work: see checksum.h and rewrite.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "dataplane/packet/bytes.h"
#include "dataplane/packet/protocols.h"

namespace nva::packet {

// Common base: a pointer that `at()` proved has kMinLen bytes behind it.
template <typename Byte, std::size_t MinLen>
class HeaderView {
 public:
  static constexpr std::size_t kMinLen = MinLen;
  static constexpr bool kMutable = !std::is_const_v<Byte>;

  Byte* data() const noexcept { return p_; }

 protected:
  explicit HeaderView(Byte* p) noexcept : p_(p) {}
  static Byte* checked(std::span<Byte> buf, std::size_t off) noexcept {
    if (off > buf.size() || buf.size() - off < MinLen) return nullptr;
    return buf.data() + off;
  }
  std::uint8_t u8(std::size_t i) const noexcept { return p_[i]; }
  std::uint16_t u16(std::size_t i) const noexcept { return load_be16(p_ + i); }
  std::uint32_t u32(std::size_t i) const noexcept { return load_be32(p_ + i); }
  void put8(std::size_t i, std::uint8_t v) const noexcept requires kMutable { p_[i] = v; }
  void put16(std::size_t i, std::uint16_t v) const noexcept requires kMutable {
    store_be16(p_ + i, v);
  }
  void put32(std::size_t i, std::uint32_t v) const noexcept requires kMutable {
    store_be32(p_ + i, v);
  }

  Byte* p_;
};

#define NVA_VIEW_FACTORY(Self)                                                   \
  static std::optional<Self> at(std::span<Byte> buf, std::size_t off) noexcept { \
    Byte* p = Self::checked(buf, off);                                           \
    if (p == nullptr) return std::nullopt;                                       \
    return Self(p);                                                              \
  }                                                                              \
                                                                                 \
 private:                                                                        \
  explicit Self(Byte* p) noexcept : HeaderView<Byte, Self::kMinLen>(p) {}        \
                                                                                 \
 public:

// Ethernet II header (no FCS).
template <typename Byte>
class EthT : public HeaderView<Byte, kEthHeaderLen> {
 public:
  NVA_VIEW_FACTORY(EthT)
  const Byte* dst_mac() const noexcept { return this->p_; }
  const Byte* src_mac() const noexcept { return this->p_ + 6; }
  std::uint16_t ethertype() const noexcept { return this->u16(12); }
};

// One 802.1Q / 802.1ad tag as it follows the MAC addresses: TPID is the
// previous header's EtherType, so the view starts at the TCI.
template <typename Byte>
class VlanT : public HeaderView<Byte, kVlanTagLen> {
 public:
  NVA_VIEW_FACTORY(VlanT)
  std::uint16_t tci() const noexcept { return this->u16(0); }
  std::uint16_t vid() const noexcept { return tci() & 0x0FFF; }
  std::uint8_t pcp() const noexcept { return static_cast<std::uint8_t>(tci() >> 13); }
  std::uint16_t ethertype() const noexcept { return this->u16(2); }
};

// IPv4 header (RFC 791); options are header_len() - 20 bytes after it.
template <typename Byte>
class Ipv4T : public HeaderView<Byte, kIpv4MinHeaderLen> {
 public:
  NVA_VIEW_FACTORY(Ipv4T)
  std::uint8_t version() const noexcept { return this->u8(0) >> 4; }
  std::uint8_t ihl() const noexcept { return this->u8(0) & 0x0F; }
  std::size_t header_len() const noexcept { return std::size_t{ihl()} * 4; }
  std::uint8_t tos() const noexcept { return this->u8(1); }
  std::uint16_t total_length() const noexcept { return this->u16(2); }
  std::uint16_t id() const noexcept { return this->u16(4); }
  bool dont_fragment() const noexcept { return (this->u16(6) & 0x4000) != 0; }
  bool more_fragments() const noexcept { return (this->u16(6) & 0x2000) != 0; }
  // Fragment offset in bytes.
  std::uint32_t fragment_offset() const noexcept {
    return std::uint32_t{static_cast<std::uint16_t>(this->u16(6) & 0x1FFF)} * 8;
  }
  std::uint8_t ttl() const noexcept { return this->u8(8); }
  std::uint8_t protocol() const noexcept { return this->u8(9); }
  std::uint16_t checksum() const noexcept { return this->u16(10); }
  std::uint32_t src() const noexcept { return this->u32(12); }
  std::uint32_t dst() const noexcept { return this->u32(16); }

  void set_ttl(std::uint8_t v) const noexcept requires Ipv4T::kMutable {
    this->put8(8, v);
  }
  void set_checksum(std::uint16_t v) const noexcept requires Ipv4T::kMutable {
    this->put16(10, v);
  }
  void set_src(std::uint32_t v) const noexcept requires Ipv4T::kMutable {
    this->put32(12, v);
  }
  void set_dst(std::uint32_t v) const noexcept requires Ipv4T::kMutable {
    this->put32(16, v);
  }
};

// IPv6 fixed header (RFC 8200).
template <typename Byte>
class Ipv6T : public HeaderView<Byte, kIpv6HeaderLen> {
 public:
  NVA_VIEW_FACTORY(Ipv6T)
  std::uint8_t version() const noexcept { return this->u8(0) >> 4; }
  std::uint8_t traffic_class() const noexcept {
    return static_cast<std::uint8_t>((this->u16(0) >> 4) & 0xFF);
  }
  std::uint32_t flow_label() const noexcept { return this->u32(0) & 0xFFFFF; }
  std::uint16_t payload_length() const noexcept { return this->u16(4); }
  std::uint8_t next_header() const noexcept { return this->u8(6); }
  std::uint8_t hop_limit() const noexcept { return this->u8(7); }
  const Byte* src() const noexcept { return this->p_ + 8; }   // 16 bytes
  const Byte* dst() const noexcept { return this->p_ + 24; }  // 16 bytes
  void set_hop_limit(std::uint8_t v) const noexcept requires Ipv6T::kMutable {
    this->put8(7, v);
  }
};

// TCP header (RFC 9293); options are header_len() - 20 bytes after it.
template <typename Byte>
class TcpT : public HeaderView<Byte, kTcpMinHeaderLen> {
 public:
  NVA_VIEW_FACTORY(TcpT)
  static constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08,
                                kAck = 0x10, kUrg = 0x20;
  std::uint16_t src_port() const noexcept { return this->u16(0); }
  std::uint16_t dst_port() const noexcept { return this->u16(2); }
  std::uint32_t seq() const noexcept { return this->u32(4); }
  std::uint32_t ack() const noexcept { return this->u32(8); }
  std::uint8_t data_offset() const noexcept { return this->u8(12) >> 4; }
  std::size_t header_len() const noexcept { return std::size_t{data_offset()} * 4; }
  std::uint8_t flags() const noexcept { return this->u8(13); }
  std::uint16_t window() const noexcept { return this->u16(14); }
  std::uint16_t checksum() const noexcept { return this->u16(16); }
  void set_src_port(std::uint16_t v) const noexcept requires TcpT::kMutable {
    this->put16(0, v);
  }
  void set_dst_port(std::uint16_t v) const noexcept requires TcpT::kMutable {
    this->put16(2, v);
  }
  void set_checksum(std::uint16_t v) const noexcept requires TcpT::kMutable {
    this->put16(16, v);
  }
};

// UDP header (RFC 768). A zero checksum means "none" over IPv4.
template <typename Byte>
class UdpT : public HeaderView<Byte, kUdpHeaderLen> {
 public:
  NVA_VIEW_FACTORY(UdpT)
  std::uint16_t src_port() const noexcept { return this->u16(0); }
  std::uint16_t dst_port() const noexcept { return this->u16(2); }
  std::uint16_t length() const noexcept { return this->u16(4); }
  std::uint16_t checksum() const noexcept { return this->u16(6); }
  void set_src_port(std::uint16_t v) const noexcept requires UdpT::kMutable {
    this->put16(0, v);
  }
  void set_dst_port(std::uint16_t v) const noexcept requires UdpT::kMutable {
    this->put16(2, v);
  }
  void set_checksum(std::uint16_t v) const noexcept requires UdpT::kMutable {
    this->put16(6, v);
  }
};

// ICMP (RFC 792) and ICMPv6 (RFC 4443) share the first 8 bytes' layout.
template <typename Byte>
class IcmpT : public HeaderView<Byte, kIcmpHeaderLen> {
 public:
  NVA_VIEW_FACTORY(IcmpT)
  std::uint8_t type() const noexcept { return this->u8(0); }
  std::uint8_t code() const noexcept { return this->u8(1); }
  std::uint16_t checksum() const noexcept { return this->u16(2); }
  // Echo request/reply identifier and sequence number.
  std::uint16_t echo_id() const noexcept { return this->u16(4); }
  std::uint16_t echo_seq() const noexcept { return this->u16(6); }
  // Destination unreachable / fragmentation needed: next-hop MTU (RFC 1191).
  std::uint16_t next_hop_mtu() const noexcept { return this->u16(6); }
  void set_checksum(std::uint16_t v) const noexcept requires IcmpT::kMutable {
    this->put16(2, v);
  }
  void set_echo_id(std::uint16_t v) const noexcept requires IcmpT::kMutable {
    this->put16(4, v);
  }
};

#undef NVA_VIEW_FACTORY

using EthView = EthT<const std::uint8_t>;
using VlanView = VlanT<const std::uint8_t>;
using Ipv4View = Ipv4T<const std::uint8_t>;
using Ipv4Mut = Ipv4T<std::uint8_t>;
using Ipv6View = Ipv6T<const std::uint8_t>;
using Ipv6Mut = Ipv6T<std::uint8_t>;
using TcpView = TcpT<const std::uint8_t>;
using TcpMut = TcpT<std::uint8_t>;
using UdpView = UdpT<const std::uint8_t>;
using UdpMut = UdpT<std::uint8_t>;
using IcmpView = IcmpT<const std::uint8_t>;
using IcmpMut = IcmpT<std::uint8_t>;

namespace icmp {
inline constexpr std::uint8_t kEchoReply = 0;
inline constexpr std::uint8_t kDestUnreachable = 3;
inline constexpr std::uint8_t kEchoRequest = 8;
inline constexpr std::uint8_t kTimeExceeded = 11;
inline constexpr std::uint8_t kParameterProblem = 12;
inline constexpr std::uint8_t kFragNeededCode = 4;

// ICMP types that quote the packet they are about (RFC 792).
constexpr bool is_error(std::uint8_t type) noexcept {
  return type == kDestUnreachable || type == kTimeExceeded || type == kParameterProblem;
}
}  // namespace icmp

namespace icmpv6 {
inline constexpr std::uint8_t kDestUnreachable = 1;
inline constexpr std::uint8_t kPacketTooBig = 2;
inline constexpr std::uint8_t kTimeExceeded = 3;
inline constexpr std::uint8_t kEchoRequest = 128;
inline constexpr std::uint8_t kEchoReply = 129;
}  // namespace icmpv6

}  // namespace nva::packet
