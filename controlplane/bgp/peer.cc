// A Peer: starting and stopping its sessions, accepting a connection (a
// second FSM while a collision is possible, RFC 4271 6.8), Established (the
// initial table, End-of-RIB), received UPDATEs into the Adj-RIB-In with the
// inbound prefix limit (RFC 4486), and the Adj-RIB-Out sent at most once per
// advertisement interval.
#include "controlplane/bgp/peer.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <utility>

namespace nva::bgp::detail {

namespace asio = boost::asio;

namespace {

std::uint32_t host_order(const Ipv4Address& a) {
  return static_cast<std::uint32_t>(a[0]) << 24 | static_cast<std::uint32_t>(a[1]) << 16 |
         static_cast<std::uint32_t>(a[2]) << 8 | a[3];
}

}  // namespace

Peer::Peer(const SpeakerContext& speaker, PeerConfig config)
    : speaker_(speaker),
      config_(std::move(config)),
      in_(config_.keep_received_routes),
      flush_timer_(speaker.io) {
  if (config_.name.empty()) config_.name = to_string(config_.address);
  fsm_config_.local_as = speaker_.config.local_as;
  fsm_config_.router_id = speaker_.config.router_id;
  fsm_config_.peer_as = config_.peer_as;
  fsm_config_.hold_time = config_.hold_time;
  fsm_config_.passive = config_.passive;
  fsm_config_.four_octet_as = config_.four_octet_as;
  fsm_config_.connect_retry_time = config_.connect_retry_time;
  fsm_config_.idle_hold_time = config_.idle_hold_time;
  fsm_config_.max_idle_hold_time = config_.max_idle_hold_time;
  main_ = make_session();
}

Peer::~Peer() {
  if (main_) main_->detach();
  if (incoming_) incoming_->detach();
}

std::shared_ptr<Session> Peer::make_session() {
  return std::make_shared<Session>(*this, speaker_.io, fsm_config_, config_);
}

void Peer::retire(std::shared_ptr<Session> s) {
  if (!s) return;
  s->detach();
  // Destroyed after the handler that is running now (it may be one of its).
  asio::post(speaker_.io, [s = std::move(s)] {});
}

void Peer::emit(SpeakerEvent e) {
  e.peer = config_.name;
  speaker_.emit(e);
}

void Peer::start() {
  main_->fsm().handle(Event(config_.passive
                                ? EventType::kManualStartWithPassiveTcpEstablishment
                                : EventType::kManualStart));
}

void Peer::stop(const std::string& communication) {
  if (incoming_) retire(std::exchange(incoming_, nullptr));
  main_->fsm().handle(Event(EventType::kManualStop, communication));
}

void Peer::accept(tcp::socket s) {
  const State st = main_->fsm().state();
  std::string why;
  if (auto failure = set_socket_options(s, config_)) {
    why = *failure;
  } else if (st == State::kActive) {
    main_->adopt(std::move(s));
    return;
  } else if ((st == State::kConnect || st == State::kOpenSent ||
              st == State::kOpenConfirm) &&
             !incoming_) {
    // A possible collision: run a second FSM until one OPEN decides (in
    // Connect too: replacing our own attempt would let two speakers that
    // connect at the same time drop each other's connections forever).
    incoming_ = make_session();
    incoming_->fsm().handle(Event(EventType::kAutomaticStartWithPassiveTcpEstablishment));
    incoming_->adopt(std::move(s));
    return;
  } else {
    why = "connection refused in state " + std::string(state_name(st));
  }
  boost::system::error_code ignored;
  s.close(ignored);
  ++counters_.connections_rejected;
  SpeakerEvent e;
  e.kind = SpeakerEvent::Kind::kConnectionRejected;
  e.detail = why;
  emit(std::move(e));
}

// RFC 4271 6.8: when the OPEN on one connection names the peer while the
// other connection is past Active, the higher BGP Identifier's connection
// wins: the local system keeps the connection the peer opened if its own
// identifier is lower, else the one it opened itself.
bool Peer::open_received(Session& s, const OpenMessage& open) {
  Session* other = &s == main_.get() ? incoming_.get() : main_.get();
  if (other == nullptr) return true;
  const State os = other->fsm().state();
  if (os != State::kOpenSent && os != State::kOpenConfirm && os != State::kEstablished) {
    // The other one is only an attempt (Idle, Connect, Active): this
    // connection carries on alone, as the main one.
    if (other == main_.get()) {
      retire(std::exchange(main_, std::move(incoming_)));
    } else {
      retire(std::exchange(incoming_, nullptr));
    }
    return true;
  }
  Session* loser = nullptr;
  if (os == State::kEstablished) {
    loser = &s;  // the established connection stays
  } else if (host_order(speaker_.config.router_id) < host_order(open.bgp_identifier)) {
    loser = !main_->incoming() ? main_.get() : incoming_.get();
  } else {
    loser = main_->incoming() && !incoming_->incoming() ? main_.get() : incoming_.get();
  }
  SpeakerEvent e;
  e.kind = SpeakerEvent::Kind::kCollision;
  e.detail = std::string("kept the connection opened by ") +
             ((loser == main_.get() ? incoming_ : main_)->incoming() ? "the peer" : "us");
  emit(std::move(e));
  ++counters_.connections_rejected;
  loser->fsm().handle(Event(EventType::kOpenCollisionDump));
  if (loser == main_.get()) {
    retire(std::exchange(main_, std::move(incoming_)));
  } else {
    retire(std::exchange(incoming_, nullptr));
  }
  return loser != &s;
}

void Peer::state_changed(Session& s, State from, State to, EventType cause,
                         std::string_view reason) {
  if (&s != main_.get()) {
    // The second connection of a collision: gone when it fails.
    if (to == State::kIdle) retire(std::exchange(incoming_, nullptr));
    return;
  }
  if (from == State::kEstablished) {
    flush_timer_.cancel();
    flush_armed_ = false;
    out_.session_down();
    in_.clear();
  }
  SpeakerEvent e;
  e.kind = SpeakerEvent::Kind::kStateChange;
  e.from = from;
  e.to = to;
  e.cause = cause;
  e.detail = std::string(reason);
  emit(std::move(e));
  if (to == State::kIdle && incoming_ && cause != EventType::kOpenCollisionDump) {
    // The main connection failed while a second one is being opened: that
    // one carries on as the main one.
    retire(std::exchange(main_, std::move(incoming_)));
  }
}

std::optional<PathAttributes> Peer::exported(const Ipv4Prefix& p) const {
  const auto it = speaker_.routes.find(p);
  if (it == speaker_.routes.end()) return std::nullopt;
  ExportContext ctx;
  ctx.local_as = speaker_.config.local_as;
  ctx.local_address =
      config_.source.value_or(main_->local_address().value_or(speaker_.config.router_id));
  return export_attributes(it->second, config_.export_policy, ctx);
}

void Peer::established(Session& s, const Negotiated& n) {
  if (&s != main_.get()) return;
  ++counters_.established_transitions;
  SpeakerEvent e;
  e.kind = SpeakerEvent::Kind::kEstablished;
  e.negotiated = n;
  emit(std::move(e));
  // The initial table at once, then End-of-RIB (RFC 4724).
  out_.session_down();
  for (const auto& [p, r] : speaker_.routes) {
    if (auto a = exported(p)) out_.set(p, std::move(*a));
  }
  flush();
  send_update(UpdateMessage{});
  SpeakerEvent eor;
  eor.kind = SpeakerEvent::Kind::kEndOfRibSent;
  eor.count = out_.sent_count();
  emit(std::move(eor));
}

void Peer::update_received(Session& s, const UpdateMessage& u,
                           const UpdateErrors& errors) {
  if (&s != main_.get()) return;
  SpeakerEvent e;
  if (u.is_end_of_rib()) {
    e.kind = SpeakerEvent::Kind::kEndOfRibReceived;
  } else {
    const auto over = in_.apply(u, errors, config_.max_prefixes_in);
    if (errors.handling == ErrorHandling::kTreatAsWithdraw) ++counters_.treat_as_withdraw;
    if (over) {
      prefix_limit_reached(*over);
      return;
    }
    e.kind = SpeakerEvent::Kind::kUpdateReceived;
    if (errors.handling != ErrorHandling::kNone) {
      e.detail = std::string(error_handling_name(errors.handling));
    }
  }
  e.count = in_.size();
  emit(std::move(e));
}

// RFC 4486: Cease / Maximum Number of Prefixes Reached by AutomaticStop
// (queued: this runs inside the FSM's handling of the UPDATE); Idle, then
// the IdleHoldTimer restarts the session, backed off like any failure.
void Peer::prefix_limit_reached(Afi afi) {
  ++counters_.prefix_limit_resets;
  const std::size_t limit = config_.max_prefixes_in;
  SpeakerEvent e;
  e.kind = SpeakerEvent::Kind::kPrefixLimit;
  e.count = limit;
  e.detail = "more than " + std::to_string(limit) + " " +
             (afi == Afi::kIpv4 ? "IPv4" : "IPv6") +
             " prefixes received: session reset (Cease / Maximum Number of Prefixes "
             "Reached)";
  emit(std::move(e));
  const auto bound = static_cast<std::uint32_t>(
      std::min<std::size_t>(limit, std::numeric_limits<std::uint32_t>::max()));
  main_->fsm().handle(Event(EventType::kAutomaticStop,
                            maximum_prefixes_reached(afi, Safi::kUnicast, bound)));
}

void Peer::route_refresh_received(Session& s) {
  if (&s != main_.get()) return;
  ++counters_.route_refresh_answered;
  out_.resend_all();
  flush();
  SpeakerEvent e;
  e.kind = SpeakerEvent::Kind::kRouteRefreshReceived;
  e.count = out_.sent_count();
  emit(std::move(e));
}

void Peer::notification(Session& /*s*/, const NotificationMessage& n, bool sent) {
  (sent ? last_sent_ : last_received_) = n;
  SpeakerEvent e;
  e.kind = sent ? SpeakerEvent::Kind::kNotificationSent
                : SpeakerEvent::Kind::kNotificationReceived;
  e.notification = n;
  e.detail = std::string(error_code_name(n.error_code)) + " / " +
             std::string(error_subcode_name(n.error_code, n.error_subcode));
  if (auto text = shutdown_communication(n)) e.detail += ": " + *text;
  emit(std::move(e));
}

void Peer::send_update(const UpdateMessage& u) {
  if (!is_established()) return;
  auto pieces = encode_split(u, main_->fsm().negotiated()->codec);
  if (!pieces) {
    SpeakerEvent e;
    e.kind = SpeakerEvent::Kind::kError;
    e.detail = "UPDATE not sent: " + std::string(pieces.error().reason);
    emit(std::move(e));
    return;
  }
  for (auto& b : *pieces) {
    main_->send(std::move(b));
    counted(MessageType::kUpdate, true);
  }
  counters_.prefixes_announced += u.nlri.size();
  counters_.prefixes_withdrawn += u.withdrawn_routes.size();
}

void Peer::route_changed(const Ipv4Prefix& p) {
  if (!is_established()) {
    // Established sends the whole table, from what the Adj-RIB-Out wants:
    // a route withdrawn meanwhile must leave it, or it would be announced
    // again when the session comes back.
    if (!speaker_.routes.contains(p)) out_.remove(p);
    return;
  }
  if (auto a = exported(p)) {
    out_.set(p, std::move(*a));
    if (out_.has_pending()) schedule_flush();
    return;
  }
  if (out_.remove(p)) send_update(withdrawal({p}));
  if (out_.has_pending()) schedule_flush();  // room for held-back routes
}

void Peer::schedule_flush() {
  if (flush_armed_) return;
  flush_armed_ = true;
  const auto due = last_flush_ + speaker_.config.advertisement_interval;
  const auto now = std::chrono::steady_clock::now();
  flush_timer_.expires_after(due > now ? due - now : Duration::zero());
  flush_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    flush_armed_ = false;
    flush();
  });
}

void Peer::flush() {
  if (!is_established()) return;
  last_flush_ = std::chrono::steady_clock::now();
  std::size_t held_back = 0;
  for (const auto& u :
       out_.take_announcements(config_.export_policy.max_routes, held_back)) {
    send_update(u);
  }
  counters_.routes_held_back = held_back;
  if (held_back > 0 && held_back != last_held_back_) {
    SpeakerEvent e;
    e.kind = SpeakerEvent::Kind::kRouteLimit;
    e.count = held_back;
    e.detail = "peer limit of " + std::to_string(config_.export_policy.max_routes) +
               " routes reached; routes held back";
    emit(std::move(e));
  }
  last_held_back_ = held_back;
}

PeerStatus Peer::status() const {
  PeerStatus s;
  s.name = config_.name;
  s.address = config_.address;
  s.state = main_->fsm().state();
  s.negotiated = main_->fsm().negotiated();
  s.routes_sent = out_.sent_count();
  s.routes_received = in_.size();
  s.last_notification_sent = last_sent_;
  s.last_notification_received = last_received_;
  s.counters = counters_;
  return s;
}

}  // namespace nva::bgp::detail
