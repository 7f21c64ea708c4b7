// Writes the parser's seed corpus (tests/data/corpus/parse/) from the
// builder: one file per packet kind. Run after changing the list:
//   ninja -C build tests/fuzz/gen-parse-corpus &&
//   build/tests/fuzz/gen-parse-corpus tests/data/corpus/parse
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/packet/protocols.h"
#include "tests/support/packet_builder.h"

using nva::packet::PacketBuilder;
namespace ipproto = nva::packet::ipproto;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string v4a = "198.18.0.1", v4b = "198.19.0.1";
  const std::string v6a = "2001:db8::1", v6b = "2001:db8::2";
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> seeds = {
      {"ipv4_tcp",
       PacketBuilder().Eth().IPv4(v4a, v4b).TCP(40000, 80).Payload("hi").Build()},
      {"ipv4_tcp_64", PacketBuilder().Eth().IPv4(v4a, v4b).TCP(1, 2).PadTo(60).Build()},
      {"ipv4_udp",
       PacketBuilder().Eth().IPv4(v4a, v4b).UDP(5353, 53).Payload("q").Build()},
      {"ipv4_udp_nocsum",
       PacketBuilder().Eth().IPv4(v4a, v4b).UDP(1, 2, {.no_checksum = true}).Build()},
      {"ipv4_icmp_echo", PacketBuilder().Eth().IPv4(v4a, v4b).ICMP(8, 0, 1, 1).Build()},
      {"ipv4_icmp_fragneeded",
       PacketBuilder()
           .Eth()
           .IPv4(v4b, v4a)
           .ICMP(3, 4)
           .Payload(PacketBuilder().IPv4(v4a, v4b).TCP(1, 2).Build())
           .Build()},
      {"ipv4_options", PacketBuilder()
                           .Eth()
                           .IPv4(v4a, v4b, {.options = {1, 7, 7, 4, 0, 0, 0, 0}})
                           .TCP(1, 2)
                           .Build()},
      {"ipv4_frag_first", PacketBuilder()
                              .Eth()
                              .IPv4(v4a, v4b, {.mf = true})
                              .UDP(1, 2, {.length = 900})
                              .Payload(32, 0)
                              .Build()},
      {"ipv4_frag_later", PacketBuilder()
                              .Eth()
                              .IPv4(v4a, v4b, {.frag_offset = 64, .protocol = 17})
                              .Payload(32, 0)
                              .Build()},
      {"vlan_tcp", PacketBuilder().Eth().Vlan(100).IPv4(v4a, v4b).TCP(1, 2).Build()},
      {"qinq_udp",
       PacketBuilder().Eth().Vlan(1, 0x88A8).Vlan(2).IPv4(v4a, v4b).UDP(1, 2).Build()},
      {"ipv6_tcp", PacketBuilder().Eth().IPv6(v6a, v6b).TCP(1, 2).Build()},
      {"ipv6_ext_udp", PacketBuilder()
                           .Eth()
                           .IPv6(v6a, v6b)
                           .Ipv6Ext(ipproto::kHopByHop)
                           .Ipv6Ext(ipproto::kRouting, std::vector<std::uint8_t>(6, 0))
                           .Ipv6Ext(ipproto::kDestOpts)
                           .UDP(1, 2)
                           .Build()},
      {"ipv6_frag",
       PacketBuilder().Eth().IPv6(v6a, v6b).Ipv6Frag(0, true, 7).UDP(1, 2).Build()},
      {"ipv6_icmpv6", PacketBuilder().Eth().IPv6(v6a, v6b).ICMPv6(128, 0, 1, 1).Build()},
      {"arp", PacketBuilder().Eth({.ethertype = 0x0806}).Payload(28, 0).Build()},
  };
  for (const auto& [name, bytes] : seeds) {
    const std::string path = std::string(argv[1]) + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "%s: write failed\n", path.c_str());
      return 1;
    }
  }
  std::printf("wrote %zu seeds to %s\n", seeds.size(), argv[1]);
  return 0;
}
