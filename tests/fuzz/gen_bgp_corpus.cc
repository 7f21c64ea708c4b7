// Writes the BGP decoder's seed corpus (tests/data/corpus/bgp/): the BIRD
// fixtures as binary plus encoder outputs for every message type and
// attribute. Run after changing either:
//   ninja -C build tests/fuzz/gen-bgp-corpus &&
//   build/tests/fuzz/gen-bgp-corpus tests/data/bgp tests/data/corpus/bgp
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "controlplane/bgp/message.h"

using namespace nva::bgp;

namespace {

std::vector<std::uint8_t> from_hex(const std::string& s) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
  }
  return out;
}

bool write(const std::filesystem::path& p, const std::vector<std::uint8_t>& b) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()),
            static_cast<std::streamsize>(b.size()));
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s FIXTURE_DIR OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out_dir = argv[2];
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(argv[1])) {
    if (e.path().extension() != ".hex") continue;
    std::ifstream in(e.path());
    std::string line;
    std::getline(in, line);
    if (!write(out_dir / (e.path().stem().string() + ".bin"), from_hex(line))) return 1;
    ++n;
  }

  const Ipv4Address nh{198, 18, 0, 2};
  PathAttributes a;
  a.origin = Origin::kIgp;
  a.as_path = AsPath{{{AsPathSegmentType::kAsSequence, {65001, 4200000001u}},
                      {AsPathSegmentType::kAsSet, {65002, 65003}}}};
  a.next_hop = nh;
  a.multi_exit_disc = 10;
  a.atomic_aggregate = true;
  a.aggregator = Aggregator{4200000001u, nh};
  a.communities = {Community::of(65001, 1), well_known_community::kNoExport,
                   well_known_community::kNoAdvertise,
                   well_known_community::kGracefulShutdown};
  a.large_communities = {{65001, 1, 2}};
  a.unknown = {{0xC0, 99, {1, 2, 3}}, {0x80, 100, {4}}};
  UpdateMessage full;
  full.path_attributes = a;
  full.nlri = {*Ipv4Prefix::parse("198.18.200.0/24"),
               *Ipv4Prefix::parse("198.18.0.1/32")};
  full.withdrawn_routes = {*Ipv4Prefix::parse("198.18.201.0/24")};

  UpdateMessage v6;
  v6.path_attributes.origin = Origin::kIncomplete;
  v6.path_attributes.as_path = AsPath::sequence({65001});
  v6.path_attributes.mp_reach_nlri =
      MpReachNlri{Afi::kIpv6,
                  Safi::kUnicast,
                  std::vector<std::uint8_t>(32, 0xFE),
                  {},
                  {*Ipv6Prefix::parse("2001:db8::/32"), *Ipv6Prefix::parse("::/0")}};
  UpdateMessage unreach;
  unreach.path_attributes.mp_unreach_nlri = MpUnreachNlri{
      Afi::kIpv4, Safi::kUnicast, {*Ipv4Prefix::parse("198.18.0.0/15")}, {}};
  UpdateMessage ibgp = full;
  ibgp.path_attributes.local_pref = 100;
  ibgp.path_attributes.as_path = AsPath{{{AsPathSegmentType::kAsConfedSequence, {65010}},
                                         {AsPathSegmentType::kAsSequence, {65001}}}};

  OpenMessage open = make_open(
      4200000001u, 180, nh,
      {MultiprotocolCapability{Afi::kIpv4, Safi::kUnicast},
       MultiprotocolCapability{Afi::kIpv6, Safi::kUnicast}, RouteRefreshCapability{},
       FourOctetAsCapability{4200000001u}, UnknownCapability{64, {0x00, 0x78}}});
  OpenMessage open_ext = open;
  open_ext.extended_optional_parameters = true;

  const CodecOptions two{.four_octet_as = false, .external_peer = true};
  const CodecOptions four{.four_octet_as = true, .external_peer = true};
  const CodecOptions four_ibgp{.four_octet_as = true, .external_peer = false};
  const std::vector<std::pair<std::string, Result<Bytes, EncodeError>>> seeds = {
      {"open", encode(open)},
      {"open_rfc9072", encode(open_ext)},
      {"keepalive", encode(KeepaliveMessage{})},
      {"notification_shutdown", encode(administrative_shutdown("maintenance"))},
      {"notification_header", encode(NotificationMessage{1, 2, {0x10, 0x01}})},
      {"route_refresh", encode(RouteRefreshMessage{Afi::kIpv4, 0, Safi::kUnicast})},
      {"update_full_as2", encode(full, two)},
      {"update_full_as4", encode(full, four)},
      {"update_ibgp", encode(ibgp, four_ibgp)},
      {"update_ipv6", encode(v6, four)},
      {"update_mp_unreach", encode(unreach, four)},
      {"update_end_of_rib", encode(UpdateMessage{}, two)},
  };
  for (const auto& [name, bytes] : seeds) {
    if (!bytes.ok()) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(),
                   std::string(bytes.error().reason).c_str());
      return 1;
    }
    if (!write(out_dir / (name + ".bin"), *bytes)) return 1;
    ++n;
  }
  std::printf("wrote %d seeds to %s\n", n, argv[2]);
  return 0;
}
