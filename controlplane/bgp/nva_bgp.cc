// nva-bgp: a minimal BGP speaker on the command line (like ExaBGP): announces
// prefixes with attributes to the peers given, prints session events as
// lines of JSON, takes commands on stdin, sends Cease on SIGTERM/SIGINT.
#include <unistd.h>

#include <utility>  // before Asio: its awaitable.hpp uses std::exchange
//
#include <boost/asio.hpp>
#include <boost/program_options.hpp>
#include <chrono>
#include <csignal>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/bgp/speaker.h"

namespace asio = boost::asio;
namespace po = boost::program_options;
using nlohmann::json;
using namespace nva::bgp;

namespace {

constexpr auto kExitGrace = std::chrono::seconds(3);  // Cease written, then exit

const char* const kCommands =
    "Commands on stdin, one a line:\n"
    "  announce PREFIX     (again) with the attributes of the command line\n"
    "  withdraw PREFIX\n"
    "  stop-peer NAME [TEXT]   ManualStop with a shutdown communication\n"
    "  start-peer NAME\n"
    "  status              one JSON line per peer: state, counters\n"
    "  routes NAME         the routes received from and sent to a peer\n";

void print(json j) {
  j["time"] =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::cout << j.dump() << std::endl;
}

json notification_json(const NotificationMessage& n) {
  json j{{"code", n.error_code},
         {"subcode", n.error_subcode},
         {"name", std::string(error_code_name(n.error_code)) + " / " +
                      std::string(error_subcode_name(n.error_code, n.error_subcode))}};
  if (auto text = shutdown_communication(n)) j["communication"] = *text;
  return j;
}

json event_json(const SpeakerEvent& e) {
  json j{{"event", std::string(event_kind_name(e.kind))}};
  if (!e.peer.empty()) j["peer"] = e.peer;
  switch (e.kind) {
    case SpeakerEvent::Kind::kStateChange:
      j["from"] = std::string(state_name(e.from));
      j["to"] = std::string(state_name(e.to));
      j["cause"] = std::string(event_name(e.cause));
      break;
    case SpeakerEvent::Kind::kEstablished:
      if (e.negotiated) {
        const Negotiated& n = *e.negotiated;
        j["hold_time"] = n.hold_time;
        j["keepalive_time"] = n.keepalive_time;
        j["peer_as"] = n.peer_as;
        j["peer_id"] = to_string(n.peer_id);
        j["four_octet_as"] = n.codec.four_octet_as;
        j["peer_route_refresh"] = n.peer_route_refresh;
      }
      break;
    case SpeakerEvent::Kind::kRouteRefreshReceived:
    case SpeakerEvent::Kind::kUpdateReceived:
    case SpeakerEvent::Kind::kEndOfRibSent:
    case SpeakerEvent::Kind::kRouteLimit:
    case SpeakerEvent::Kind::kPrefixLimit:
    case SpeakerEvent::Kind::kEndOfRibReceived:
      j["routes"] = e.count;
      break;
    default:
      break;
  }
  if (e.notification) j["notification"] = notification_json(*e.notification);
  if (!e.detail.empty()) j["detail"] = e.detail;
  return j;
}

json attributes_json(const PathAttributes& a) {
  json j = json::object();
  if (a.as_path) {
    std::string path;
    for (const auto& seg : a.as_path->segments) {
      for (auto as : seg.asns) {
        if (!path.empty()) path += ' ';
        path += std::to_string(as);
      }
    }
    j["as_path"] = path;
  }
  if (a.next_hop) j["next_hop"] = to_string(*a.next_hop);
  if (a.multi_exit_disc) j["med"] = *a.multi_exit_disc;
  json c = json::array();
  for (auto x : a.communities) c.push_back(to_string(x));
  if (!c.empty()) j["communities"] = c;
  json l = json::array();
  for (const auto& x : a.large_communities) l.push_back(to_string(x));
  if (!l.empty()) j["large_communities"] = l;
  return j;
}

json status_json(const PeerStatus& s) {
  json sent = json::object();
  json received = json::object();
  for (std::size_t i = 1; i < s.counters.messages_sent.size(); ++i) {
    const std::string type(kMessageTypeKeys[i]);
    sent[type] = s.counters.messages_sent[i];
    received[type] = s.counters.messages_received[i];
  }
  json j{{"event", "status"},
         {"peer", s.name},
         {"state", std::string(state_name(s.state))},
         {"routes_sent", s.routes_sent},
         {"routes_received", s.routes_received},
         {"messages_sent", sent},
         {"messages_received", received}};
  // Every other counter by its table name (speaker.h, NVA_PEER_COUNTERS).
#define NVA_PEER_COUNTER_JSON(member, name, doc) j[name] = s.counters.member;
  NVA_PEER_COUNTERS(NVA_PEER_COUNTER_JSON)
#undef NVA_PEER_COUNTER_JSON
  if (s.negotiated) j["hold_time"] = s.negotiated->hold_time;
  return j;
}

// Reads command lines from stdin when it can be watched (a pipe, a FIFO or
// a terminal; not a regular file).
class Commands {
 public:
  Commands(asio::io_context& io, Speaker& speaker, RouteAttributes attributes)
      : in_(io), speaker_(speaker), attributes_(std::move(attributes)) {
    boost::system::error_code ec;
    in_.assign(::dup(STDIN_FILENO), ec);
    if (!ec) read();
  }
  void cancel() {
    boost::system::error_code ignored;
    in_.close(ignored);
  }

 private:
  void read() {
    asio::async_read_until(in_, buf_, '\n',
                           [this](const boost::system::error_code& ec, std::size_t) {
                             if (ec) return;  // EOF or closed: no more commands
                             std::istream is(&buf_);
                             std::string line;
                             std::getline(is, line);
                             run(line);
                             read();
                           });
  }

  void run(const std::string& line) {
    std::istringstream is(line);
    std::string cmd, arg;
    is >> cmd >> arg;
    std::string rest;
    std::getline(is >> std::ws, rest);
    if (cmd.empty()) return;
    if (cmd == "announce" || cmd == "withdraw") {
      auto p = Ipv4Prefix::parse(arg);
      if (!p)
        return print({{"event", "command-error"}, {"detail", "bad prefix: " + arg}});
      if (cmd == "announce") {
        speaker_.announce(*p, attributes_);
      } else {
        speaker_.withdraw(*p);
      }
      return print({{"event", cmd}, {"prefix", p->to_string()}});
    }
    if (cmd == "stop-peer" || cmd == "start-peer") {
      const bool ok =
          cmd == "stop-peer" ? speaker_.stop_peer(arg, rest) : speaker_.start_peer(arg);
      if (!ok) print({{"event", "command-error"}, {"detail", "no peer " + arg}});
      return;
    }
    if (cmd == "status") {
      for (const auto& s : speaker_.peers()) print(status_json(s));
      return;
    }
    if (cmd == "routes") {
      json in = json::object();
      for (const auto& [p, a] : speaker_.received_routes(arg)) {
        in[p.to_string()] = attributes_json(a);
      }
      json out = json::object();
      for (const auto& [p, a] : speaker_.sent_routes(arg)) {
        out[p.to_string()] = attributes_json(a);
      }
      return print({{"event", "routes"}, {"peer", arg}, {"received", in}, {"sent", out}});
    }
    print({{"event", "command-error"}, {"detail", "unknown command: " + cmd}});
  }

  asio::posix::stream_descriptor in_;
  asio::streambuf buf_;
  Speaker& speaker_;
  RouteAttributes attributes_;
};

Ipv4Address address_option(const std::string& text, const char* what) {
  auto a = parse_ipv4(text);
  if (!a) throw po::error(std::string("bad ") + what + ": " + text);
  return *a;
}

template <class T>
T number(const std::string& text, const char* what, unsigned long long max) {
  std::size_t used = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || v > max || text[0] == '-') {
    throw po::error(std::string("bad ") + what + ": " + text);
  }
  return static_cast<T>(v);
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description desc(
      "Usage: nva-bgp --local-as AS --router-id ID --peer ADDR:AS [--peer ...]\n"
      "               --announce PREFIX [options]\nOptions");
  desc.add_options()("help,h", "this text")                                           //
      ("local-as", po::value<std::string>()->required(), "local AS (1..4294967295)")  //
      ("router-id", po::value<std::string>()->required(), "BGP identifier (IPv4)")    //
      ("peer", po::value<std::vector<std::string>>()->required(),
       "peer ADDR:AS (repeatable)")  //
      ("announce", po::value<std::vector<std::string>>(),
       "prefix to announce (repeatable)")  //
      ("prepend", po::value<unsigned>()->default_value(0),
       "extra copies of the local AS")                        //
      ("med", po::value<std::uint32_t>(), "MULTI_EXIT_DISC")  //
      ("community", po::value<std::vector<std::string>>(),
       "community AS:VALUE, graceful-shutdown, no-advertise, no-export (repeatable)")  //
      ("large-community", po::value<std::vector<std::string>>(),
       "large community A:B:C (repeatable)")                                       //
      ("next-hop", po::value<std::string>(), "next hop (default: next-hop self)")  //
      ("hold-time", po::value<unsigned>()->default_value(kDefaultHoldTime),
       "hold time offered, seconds (>= 3; 0 is refused)")  //
      ("passive", "wait for peers to connect")             //
      ("port", po::value<unsigned>()->default_value(kPort),
       "BGP port (peers and listener)")           //
      ("no-listen", "do not accept connections")  //
      ("listen-address", po::value<std::string>(),
       "address of the listener (default: any)")                                      //
      ("source", po::value<std::string>(), "local address for outgoing connections")  //
      ("ttl", po::value<unsigned>()->default_value(kDefaultMultihopTtl),
       "TTL (multihop)")                                                              //
      ("gtsm", po::value<unsigned>(), "GTSM (RFC 5082): accept only TTL >= 256 - N")  //
      ("max-routes", po::value<std::size_t>()->default_value(kDefaultMaxRoutes),
       "routes per peer before a warning (the excess is held back)")  //
      ("max-prefixes-in", po::value<std::size_t>()->default_value(kDefaultMaxPrefixesIn),
       "received prefixes per family before Cease / Maximum Number of Prefixes")  //
      ("no-four-octet-as",
       "do not offer the 4-octet AS capability (2-octet local AS)")  //
      ("advertisement-interval-ms",
       po::value<unsigned>()->default_value(
           static_cast<unsigned>(kDefaultAdvertisementInterval.count())),
       "announcements leave at most this often per peer")  //
      ("idle-hold-time-ms",
       po::value<unsigned>()->default_value(
           static_cast<unsigned>(kDefaultIdleHoldTime.count())),
       "first wait before an automatic restart (doubles after each failure)")  //
      ("connect-retry-time",
       po::value<unsigned>()->default_value(static_cast<unsigned>(
           std::chrono::duration_cast<std::chrono::seconds>(kDefaultConnectRetryTime)
               .count())),
       "ConnectRetryTime, seconds");

  SpeakerConfig config;
  RouteAttributes attributes;
  std::vector<Ipv4Prefix> prefixes;
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n" << kCommands;
      return 0;
    }
    po::notify(vm);
    config.local_as = number<std::uint32_t>(vm["local-as"].as<std::string>(), "local AS",
                                            0xFFFFFFFFull);
    config.router_id = address_option(vm["router-id"].as<std::string>(), "router id");
    const unsigned port = vm["port"].as<unsigned>();
    if (port == 0 || port > 65535) throw po::error("bad port");
    config.listen = vm.count("no-listen") == 0;
    config.listen_port = static_cast<std::uint16_t>(port);
    if (vm.count("listen-address")) {
      config.listen_address =
          address_option(vm["listen-address"].as<std::string>(), "listen address");
    }
    config.advertisement_interval =
        std::chrono::milliseconds(vm["advertisement-interval-ms"].as<unsigned>());

    PeerConfig base;
    const unsigned hold = vm["hold-time"].as<unsigned>();
    if (hold > 65535) throw po::error("bad hold time");
    base.hold_time = static_cast<std::uint16_t>(hold);
    base.passive = vm.count("passive") > 0;
    base.port = static_cast<std::uint16_t>(port);
    if (vm.count("source"))
      base.source = address_option(vm["source"].as<std::string>(), "source");
    const unsigned ttl = vm["ttl"].as<unsigned>();
    if (ttl == 0 || ttl > 255) throw po::error("bad TTL (1..255)");
    base.ttl = static_cast<std::uint8_t>(ttl);
    if (vm.count("gtsm")) {
      const unsigned hops = vm["gtsm"].as<unsigned>();
      if (hops == 0 || hops > 255) throw po::error("bad GTSM hops (1..255)");
      base.gtsm_hops = static_cast<std::uint8_t>(hops);
    }
    base.four_octet_as = vm.count("no-four-octet-as") == 0;
    base.idle_hold_time =
        std::chrono::milliseconds(vm["idle-hold-time-ms"].as<unsigned>());
    base.connect_retry_time =
        std::chrono::seconds(vm["connect-retry-time"].as<unsigned>());
    base.export_policy.max_routes = vm["max-routes"].as<std::size_t>();
    base.max_prefixes_in = vm["max-prefixes-in"].as<std::size_t>();
    base.keep_received_routes = true;  // the routes command shows them
    if (vm.count("next-hop")) {
      base.export_policy.next_hop =
          address_option(vm["next-hop"].as<std::string>(), "next hop");
    }
    for (const auto& spec : vm["peer"].as<std::vector<std::string>>()) {
      const auto colon = spec.rfind(':');
      if (colon == std::string::npos) throw po::error("bad --peer (ADDR:AS): " + spec);
      PeerConfig p = base;
      p.address = address_option(spec.substr(0, colon), "peer address");
      p.peer_as = number<std::uint32_t>(spec.substr(colon + 1), "peer AS", 0xFFFFFFFFull);
      config.peers.push_back(std::move(p));
    }

    attributes.prepend = vm["prepend"].as<unsigned>();
    if (vm.count("med")) attributes.med = vm["med"].as<std::uint32_t>();
    if (vm.count("community")) {
      for (const auto& c : vm["community"].as<std::vector<std::string>>()) {
        auto v = parse_community(c);
        if (!v) throw po::error("bad community: " + c);
        attributes.communities.push_back(*v);
      }
    }
    if (vm.count("large-community")) {
      for (const auto& c : vm["large-community"].as<std::vector<std::string>>()) {
        auto v = parse_large_community(c);
        if (!v) throw po::error("bad large community: " + c);
        attributes.large_communities.push_back(*v);
      }
    }
    if (attributes.prepend > kMaxPrepend) throw po::error("--prepend too large");
    if (vm.count("announce")) {
      for (const auto& text : vm["announce"].as<std::vector<std::string>>()) {
        auto p = Ipv4Prefix::parse(text);
        if (!p) throw po::error("bad prefix: " + text);
        prefixes.push_back(*p);
      }
    }
  } catch (const po::error& e) {
    std::cerr << "nva-bgp: " << e.what() << "\n\n" << desc;
    return 2;
  }
  if (const auto errors = validate(config); !errors.empty()) {
    for (const auto& e : errors) std::cerr << "nva-bgp: " << e << "\n";
    return 2;
  }

  asio::io_context io;
  Speaker speaker(io, config);
  speaker.on_event([](const SpeakerEvent& e) { print(event_json(e)); });
  for (const auto& p : prefixes) speaker.announce(p, attributes);
  if (auto error = speaker.start()) {
    print({{"event", "error"}, {"detail", *error}});
    return 1;
  }
  print({{"event", "started"},
         {"local_as", config.local_as},
         {"router_id", to_string(config.router_id)},
         {"peers", config.peers.size()},
         {"listen_port", speaker.listen_port()}});

  Commands commands(io, speaker, attributes);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    print({{"event", "stopping"}, {"signal", signo}});
    commands.cancel();
    speaker.stop("nva-bgp stopping");
    // run() returns once every Cease is written and every socket closed; a
    // peer that stops reading cannot hold the exit up for long.
    std::thread([&io] {
      std::this_thread::sleep_for(kExitGrace);
      io.stop();
    }).detach();
  });
  io.run();
  print({{"event", "stopped"}});
  return 0;
}
