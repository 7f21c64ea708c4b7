// Fluent packet builder for tests, benchmarks and fuzz seeds:
//   PacketBuilder().Eth().IPv4("198.18.0.1", "198.19.0.1").TCP(1234, 80)
//       .Payload("hi").Build()
// Lengths, next-protocol fields and checksums are filled in by Build() unless
// an option overrides them (to make hostile packets). L4 checksums use the
// IPv6 header's destination even after a Routing header (tests that need the
// final destination's checksum must set it themselves). Not for the packet path:
// it allocates and throws std::invalid_argument on a bad address string. No
// part of the data plane (tests/support/ holds it); it keeps the namespace
// nva::packet of the headers it writes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nva::packet {

using Mac = std::array<std::uint8_t, 6>;
using Ipv6Addr = std::array<std::uint8_t, 16>;

// Parses dotted-quad IPv4 into host order; throws std::invalid_argument.
std::uint32_t ipv4_from_string(std::string_view s);
// Formats a host-order IPv4 address as a dotted quad.
std::string ipv4_to_string(std::uint32_t a);
Ipv6Addr ipv6_from_string(std::string_view s);

struct EthOpts {
  Mac src{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  Mac dst{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
  std::optional<std::uint16_t> ethertype;  // default: from the next layer
};

struct Ipv4Opts {
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;
  std::uint16_t id = 0x1234;
  bool df = false;
  bool mf = false;
  std::uint16_t frag_offset = 0;        // bytes, multiple of 8
  std::vector<std::uint8_t> options;    // padded to 4 bytes with EOL
  std::optional<std::uint8_t> version;  // default 4
  std::optional<std::uint8_t> ihl;      // default from options
  std::optional<std::uint16_t> total_length;
  std::optional<std::uint8_t> protocol;   // default: from the next layer
  std::optional<std::uint16_t> checksum;  // default: correct
};

struct Ipv6Opts {
  std::uint8_t hop_limit = 64;
  std::uint8_t traffic_class = 0;
  std::uint32_t flow_label = 0;
  std::optional<std::uint16_t> payload_length;
  std::optional<std::uint8_t> next_header;
};

struct TcpOpts {
  std::uint8_t flags = 0x02;  // SYN
  std::uint32_t seq = 1000;
  std::uint32_t ack = 0;
  std::uint16_t window = 65535;
  std::vector<std::uint8_t> options;  // padded to 4 bytes with EOL
  std::optional<std::uint8_t> data_offset;
  std::optional<std::uint16_t> checksum;
};

struct UdpOpts {
  std::optional<std::uint16_t> length;
  bool no_checksum = false;  // send 0 ("none", IPv4 only)
  std::optional<std::uint16_t> checksum;
};

class PacketBuilder {
 public:
  PacketBuilder& Eth(EthOpts o = {});
  PacketBuilder& Vlan(std::uint16_t vid, std::uint16_t tpid = 0x8100,
                      std::uint8_t pcp = 0);
  PacketBuilder& IPv4(std::string_view src, std::string_view dst, Ipv4Opts o = {});
  PacketBuilder& IPv6(std::string_view src, std::string_view dst, Ipv6Opts o = {});
  // A generic IPv6 extension header (Hop-by-Hop, Routing, Destination
  // options, Mobility): `body` is padded so the header is a multiple of 8.
  PacketBuilder& Ipv6Ext(std::uint8_t type, std::vector<std::uint8_t> body = {});
  // A Fragment header; `next_header` defaults to the next layer's protocol
  // (set it for a later fragment, whose payload is not a header).
  PacketBuilder& Ipv6Frag(std::uint16_t offset, bool more, std::uint32_t id,
                          std::optional<std::uint8_t> next_header = std::nullopt);
  PacketBuilder& TCP(std::uint16_t sport, std::uint16_t dport, TcpOpts o = {});
  PacketBuilder& UDP(std::uint16_t sport, std::uint16_t dport, UdpOpts o = {});
  PacketBuilder& ICMP(std::uint8_t type, std::uint8_t code, std::uint16_t id = 0,
                      std::uint16_t seq = 0);
  PacketBuilder& ICMPv6(std::uint8_t type, std::uint8_t code, std::uint16_t id = 0,
                        std::uint16_t seq = 0);
  PacketBuilder& Payload(std::span<const std::uint8_t> bytes);
  PacketBuilder& Payload(std::string_view text);
  PacketBuilder& Payload(std::size_t n, std::uint8_t fill);
  // Ethernet padding after the IP datagram up to `frame_len` bytes.
  PacketBuilder& PadTo(std::size_t frame_len);

  std::vector<std::uint8_t> Build() const;

 private:
  enum class Kind : std::uint8_t {
    kEth,
    kVlan,
    kIpv4,
    kIpv6,
    kIpv6Ext,
    kIpv6Frag,
    kTcp,
    kUdp,
    kIcmp,
    kIcmpv6,
    kPayload
  };
  struct Layer {
    Kind kind;
    std::vector<std::uint8_t> bytes;  // serialised with placeholders
    // Per-kind extras used by Build()'s fix-ups.
    EthOpts eth;
    Ipv4Opts ip4;
    Ipv6Opts ip6;
    TcpOpts tcp;
    UdpOpts udp;
    std::uint8_t ext_type = 0;
    std::uint16_t tpid = 0;
  };
  std::vector<Layer> layers_;
  std::size_t pad_to_ = 0;
};

}  // namespace nva::packet
