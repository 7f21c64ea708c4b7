// The speaker on Boost.Asio: framed connections, one Session (FSM + clock +
// transport) per connection, collision resolution between two connections
// of a peer (RFC 4271 6.8), Adj-RIB-Out flushing and the listener.
#include "controlplane/bgp/speaker.h"

#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <deque>
#include <limits>
#include <set>
#include <utility>

#include "controlplane/bgp/rib.h"

namespace nva::bgp {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr Duration kCloseGrace = std::chrono::seconds(2);  // flushing a NOTIFICATION

asio::ip::address_v4 to_asio(const Ipv4Address& a) { return asio::ip::address_v4(a); }
Ipv4Address from_asio(const asio::ip::address_v4& a) { return a.to_bytes(); }

EventType expiry_event(Timer t) {
  switch (t) {
    case Timer::kConnectRetry:
      return EventType::kConnectRetryTimerExpires;
    case Timer::kHold:
      return EventType::kHoldTimerExpires;
    case Timer::kKeepalive:
      return EventType::kKeepaliveTimerExpires;
    case Timer::kIdleHold:
      return EventType::kIdleHoldTimerExpires;
  }
  return EventType::kHoldTimerExpires;
}

std::uint32_t host_order(const Ipv4Address& a) {
  return static_cast<std::uint32_t>(a[0]) << 24 | static_cast<std::uint32_t>(a[1]) << 16 |
         static_cast<std::uint32_t>(a[2]) << 8 | a[3];
}

// TCP_NODELAY, the TTL of what we send and, with GTSM, the lowest TTL we
// accept (RFC 5082). Returns the first failure, if any.
std::optional<std::string> set_socket_options(tcp::socket& s, const PeerConfig& c) {
  boost::system::error_code ec;
  s.set_option(tcp::no_delay(true), ec);
  if (ec) return "TCP_NODELAY: " + ec.message();
  const int ttl = c.gtsm_hops ? 255 : c.ttl;
  s.set_option(asio::ip::unicast::hops(ttl), ec);
  if (ec) return "IP_TTL: " + ec.message();
  if (c.gtsm_hops) {
    const int min_ttl = 256 - *c.gtsm_hops;
    if (::setsockopt(s.native_handle(), IPPROTO_IP, IP_MINTTL, &min_ttl,
                     sizeof(min_ttl)) != 0) {
      return "IP_MINTTL: failed";
    }
  }
  return std::nullopt;
}

// What a Connection reports; the owner clears itself (close()) before it goes.
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  virtual void on_message(DecodedMessage m) = 0;
  virtual void on_decode_error(DecodeError e) = 0;
  virtual void on_connection_failed(const std::string& reason) = 0;
};

// One TCP connection carrying BGP messages: reads the 19-octet header,
// checks it, reads the rest, decodes; writes whole messages in order.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(tcp::socket socket)
      : socket_(std::move(socket)), guard_(socket_.get_executor()) {}

  void start(ConnectionOwner* owner) {
    owner_ = owner;
    read_header();
  }
  void set_codec(const CodecOptions& c) { codec_ = c; }
  std::optional<Ipv4Address> local_address() const {
    boost::system::error_code ec;
    const auto ep = socket_.local_endpoint(ec);
    if (ec || !ep.address().is_v4()) return std::nullopt;
    return from_asio(ep.address().to_v4());
  }

  void send(Bytes b) {
    if (closing_) return;
    queue_.push_back(std::move(b));
    if (queue_.size() == 1) write_next();
  }

  // No more reports; what is queued is still written (bounded in time).
  void close() {
    owner_ = nullptr;
    if (closing_) return;
    closing_ = true;
    if (queue_.empty()) {
      finish_close();
      return;
    }
    guard_.expires_after(kCloseGrace);
    guard_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->finish_close();
    });
  }

 private:
  void read_header() {
    buf_.resize(kHeaderLength);
    asio::async_read(socket_, asio::buffer(buf_),
                     [self = shared_from_this()](const boost::system::error_code& ec,
                                                 std::size_t) { self->on_header(ec); });
  }

  void on_header(const boost::system::error_code& ec) {
    if (closing_) return;
    if (ec) return fail(ec == asio::error::eof ? "closed by peer" : ec.message());
    auto h = decode_header(buf_);
    if (!h) return report_error(h.error());
    buf_.resize(h->length);
    asio::async_read(socket_,
                     asio::buffer(buf_.data() + kHeaderLength, h->length - kHeaderLength),
                     [self = shared_from_this()](const boost::system::error_code& e,
                                                 std::size_t) { self->on_body(e); });
  }

  void on_body(const boost::system::error_code& ec) {
    if (closing_) return;
    if (ec) return fail(ec == asio::error::eof ? "closed by peer" : ec.message());
    auto d = decode_message(buf_, codec_);
    if (!d) return report_error(d.error());
    // Keep this alive and read on only if the owner did not close.
    auto self = shared_from_this();
    if (owner_ != nullptr) owner_->on_message(std::move(d).value());
    if (!closing_) read_header();
  }

  // A message that must end the session: the owner sends the NOTIFICATION
  // and closes; nothing more is read.
  void report_error(const DecodeError& e) {
    auto self = shared_from_this();
    if (owner_ != nullptr) owner_->on_decode_error(e);
  }

  void fail(const std::string& reason) {
    ConnectionOwner* owner = owner_;
    owner_ = nullptr;
    closing_ = true;
    queue_.clear();
    finish_close();
    if (owner != nullptr) owner->on_connection_failed(reason);
  }

  void write_next() {
    asio::async_write(socket_, asio::buffer(queue_.front()),
                      [self = shared_from_this()](const boost::system::error_code& ec,
                                                  std::size_t) { self->on_written(ec); });
  }

  void on_written(const boost::system::error_code& ec) {
    if (!queue_.empty()) queue_.pop_front();
    if (ec) {
      queue_.clear();
      if (closing_) {
        finish_close();
      } else {
        fail(ec.message());
      }
      return;
    }
    if (!queue_.empty()) {
      write_next();
    } else if (closing_) {
      finish_close();
    }
  }

  void finish_close() {
    boost::system::error_code ignored;
    guard_.cancel();
    if (!socket_.is_open()) return;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  asio::steady_timer guard_;
  ConnectionOwner* owner_ = nullptr;
  bool closing_ = false;
  CodecOptions codec_;
  Bytes buf_;
  std::deque<Bytes> queue_;
};

}  // namespace

class Peer;

// One FSM with its timers and its connection (RFC 4271 keeps one FSM per
// connection while a collision is being resolved).
class Session : public FsmClock,
                public FsmTransport,
                public FsmObserver,
                public ConnectionOwner,
                public std::enable_shared_from_this<Session> {
 public:
  Session(Peer& peer, asio::io_context& io, const FsmConfig& config,
          const PeerConfig& peer_config)
      : peer_(&peer),
        io_(io),
        peer_config_(peer_config),
        fsm_(config, *this, *this, *this),
        timers_{asio::steady_timer(io), asio::steady_timer(io), asio::steady_timer(io),
                asio::steady_timer(io)},
        socket_(io) {}
  ~Session() override { detach(); }

  Fsm& fsm() { return fsm_; }
  const Fsm& fsm() const { return fsm_; }
  // The connection was opened by the peer.
  bool incoming() const { return incoming_; }
  std::optional<Ipv4Address> local_address() const {
    return conn_ ? conn_->local_address() : std::nullopt;
  }

  // A connection the listener accepted for this peer.
  void adopt(tcp::socket s) {
    close();
    incoming_ = true;
    attach(std::move(s));
    fsm_.handle(Event(EventType::kTcpConnectionConfirmed));
  }

  // No more reports to the peer; timers stopped, connection closed.
  void detach() {
    peer_ = nullptr;
    for (std::size_t t = 0; t < timers_.size(); ++t) stop(static_cast<Timer>(t));
    close();
  }

  // FsmClock
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  void start(Timer t, Duration d) override {
    const auto i = static_cast<std::size_t>(t);
    const std::uint64_t gen = ++timer_gen_[i];
    timers_[i].expires_after(d);
    timers_[i].async_wait(
        [w = weak_from_this(), t, i, gen](const boost::system::error_code& ec) {
          auto s = w.lock();
          if (ec || !s || s->timer_gen_[i] != gen || s->peer_ == nullptr) return;
          s->fsm_.handle(Event(expiry_event(t)));
        });
  }
  void stop(Timer t) override {
    const auto i = static_cast<std::size_t>(t);
    ++timer_gen_[i];
    timers_[i].cancel();
  }

  // FsmTransport
  void connect() override;
  void send(Bytes message) override {
    if (conn_) conn_->send(std::move(message));
  }
  void close() override {
    ++connect_gen_;
    boost::system::error_code ignored;
    if (socket_.is_open()) socket_.close(ignored);
    if (conn_) {
      conn_->close();
      conn_.reset();
    }
  }

  // FsmObserver and ConnectionOwner: to the peer (below, after Peer).
  void state_changed(State from, State to, EventType cause,
                     std::string_view reason) override;
  void established(const Negotiated& n) override;
  void update_received(const UpdateMessage& u, const UpdateErrors& e) override;
  void route_refresh_received(const RouteRefreshMessage& r) override;
  void notification_sent(const NotificationMessage& n) override;
  void notification_received(const NotificationMessage& n) override;
  void message_sent(MessageType t) override;
  void on_message(DecodedMessage m) override;
  void on_decode_error(DecodeError e) override {
    fsm_.handle(decode_error_event(std::move(e)));
  }
  void on_connection_failed(const std::string& /*reason*/) override {
    conn_.reset();
    fsm_.handle(Event(EventType::kTcpConnectionFails));
  }

 private:
  void attach(tcp::socket s) {
    conn_ = std::make_shared<Connection>(std::move(s));
    conn_->start(this);
  }

  Peer* peer_;
  asio::io_context& io_;
  const PeerConfig& peer_config_;
  Fsm fsm_;
  std::array<asio::steady_timer, 4> timers_;
  std::array<std::uint64_t, 4> timer_gen_{};
  tcp::socket socket_;  // while connecting
  std::uint64_t connect_gen_ = 0;
  std::shared_ptr<Connection> conn_;
  bool incoming_ = false;
};

// One configured peer: its main session (and a second one during a
// collision), its RIBs, counters and advertisement timer.
class Peer {
 public:
  Peer(Speaker::Impl& speaker, PeerConfig config);
  ~Peer() {
    if (main_) main_->detach();
    if (incoming_) incoming_->detach();
  }

  const PeerConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  void start();
  void stop(const std::string& communication);
  void accept(tcp::socket s);
  void route_changed(const Ipv4Prefix& p);
  PeerStatus status() const;
  const AdjRibIn& rib_in() const { return in_; }
  const AdjRibOut& rib_out() const { return out_; }

  // From the sessions.
  bool open_received(Session& s, const OpenMessage& open);
  void state_changed(Session& s, State from, State to, EventType cause,
                     std::string_view reason);
  void established(Session& s, const Negotiated& n);
  void update_received(Session& s, const UpdateMessage& u, const UpdateErrors& e);
  void route_refresh_received(Session& s);
  void notification(Session& s, const NotificationMessage& n, bool sent);
  void prefix_limit_reached(Afi afi);
  void counted(MessageType t, bool sent) {
    auto& c = sent ? counters_.messages_sent : counters_.messages_received;
    const auto i = static_cast<std::size_t>(t);
    if (i < c.size()) ++c[i];
  }
  asio::io_context& io();
  void report_error(const std::string& detail) {
    SpeakerEvent e;
    e.kind = SpeakerEvent::Kind::kError;
    e.detail = detail;
    emit(std::move(e));
  }

 private:
  std::shared_ptr<Session> make_session();
  void retire(std::shared_ptr<Session> s);
  void emit(SpeakerEvent e);
  bool is_established() const {
    return main_ && main_->fsm().state() == State::kEstablished;
  }
  std::optional<PathAttributes> exported(const Ipv4Prefix& p) const;
  void send_update(const UpdateMessage& u);
  void schedule_flush();
  void flush();

  Speaker::Impl& speaker_;
  PeerConfig config_;
  FsmConfig fsm_config_;
  std::shared_ptr<Session> main_;
  std::shared_ptr<Session> incoming_;
  AdjRibOut out_;
  AdjRibIn in_;
  asio::steady_timer flush_timer_;
  bool flush_armed_ = false;
  TimePoint last_flush_{};
  std::size_t last_held_back_ = 0;
  PeerCounters counters_;
  std::optional<NotificationMessage> last_sent_;
  std::optional<NotificationMessage> last_received_;
};

struct Speaker::Impl {
  Impl(asio::io_context& context, SpeakerConfig c)
      : io(context), config(std::move(c)), acceptor(context) {}

  void emit(const SpeakerEvent& e) {
    if (handler) handler(e);
  }
  void do_accept();
  Peer* find(const std::string& name) {
    for (auto& p : peers) {
      if (p->name() == name) return p.get();
    }
    return nullptr;
  }

  asio::io_context& io;
  SpeakerConfig config;
  EventHandler handler;
  std::map<Ipv4Prefix, RouteAttributes> routes;
  std::vector<std::unique_ptr<Peer>> peers;
  tcp::acceptor acceptor;
  bool stopping = false;
};

// --- Session ------------------------------------------------------------------

void Session::connect() {
  const std::uint64_t gen = ++connect_gen_;
  boost::system::error_code ec;
  socket_ = tcp::socket(io_);
  socket_.open(tcp::v4(), ec);
  std::optional<std::string> failure;
  if (ec) failure = "socket: " + ec.message();
  if (!failure && peer_config_.source) {
    socket_.bind(tcp::endpoint(to_asio(*peer_config_.source), 0), ec);
    if (ec) failure = "bind: " + ec.message();
  }
  if (!failure) failure = set_socket_options(socket_, peer_config_);
  if (failure) {
    if (peer_ != nullptr) peer_->report_error(*failure);
    // Report the failure asynchronously, like a refused connection.
    asio::post(io_, [w = weak_from_this(), gen] {
      auto s = w.lock();
      if (!s || s->connect_gen_ != gen || s->peer_ == nullptr) return;
      s->fsm_.handle(Event(EventType::kTcpConnectionFails));
    });
    return;
  }
  socket_.async_connect(
      tcp::endpoint(to_asio(peer_config_.address), peer_config_.port),
      [w = weak_from_this(), gen](const boost::system::error_code& error) {
        auto s = w.lock();
        if (!s || s->connect_gen_ != gen || s->peer_ == nullptr) return;
        if (error) {
          boost::system::error_code ignored;
          s->socket_.close(ignored);
          s->fsm_.handle(Event(EventType::kTcpConnectionFails));
          return;
        }
        s->incoming_ = false;
        s->attach(std::move(s->socket_));
        s->socket_ = tcp::socket(s->io_);
        s->fsm_.handle(Event(EventType::kTcpCrAcked));
      });
}

void Session::state_changed(State from, State to, EventType cause,
                            std::string_view reason) {
  if (to == State::kOpenConfirm && conn_ && fsm_.negotiated()) {
    conn_->set_codec(fsm_.negotiated()->codec);
  }
  if (peer_ != nullptr) peer_->state_changed(*this, from, to, cause, reason);
}
void Session::established(const Negotiated& n) {
  if (peer_ != nullptr) peer_->established(*this, n);
}
void Session::update_received(const UpdateMessage& u, const UpdateErrors& e) {
  if (peer_ != nullptr) peer_->update_received(*this, u, e);
}
void Session::route_refresh_received(const RouteRefreshMessage& /*r*/) {
  if (peer_ != nullptr) peer_->route_refresh_received(*this);
}
void Session::notification_sent(const NotificationMessage& n) {
  if (peer_ != nullptr) peer_->notification(*this, n, true);
}
void Session::notification_received(const NotificationMessage& n) {
  if (peer_ != nullptr) peer_->notification(*this, n, false);
}
void Session::message_sent(MessageType t) {
  if (peer_ != nullptr) peer_->counted(t, true);
}
void Session::on_message(DecodedMessage m) {
  if (peer_ == nullptr) return;
  peer_->counted(type_of(m.message), false);
  if (const auto* open = std::get_if<OpenMessage>(&m.message)) {
    if (!peer_->open_received(*this, *open)) return;  // dumped by collision resolution
  }
  fsm_.handle(message_event(std::move(m)));
}

// --- Peer ----------------------------------------------------------------------

Peer::Peer(Speaker::Impl& speaker, PeerConfig config)
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

asio::io_context& Peer::io() { return speaker_.io; }

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

// --- Speaker -------------------------------------------------------------------

std::string_view event_kind_name(SpeakerEvent::Kind k) {
  using K = SpeakerEvent::Kind;
  switch (k) {
    case K::kStateChange:
      return "state";
    case K::kEstablished:
      return "established";
    case K::kNotificationSent:
      return "notification-sent";
    case K::kNotificationReceived:
      return "notification-received";
    case K::kRouteRefreshReceived:
      return "route-refresh";
    case K::kEndOfRibReceived:
      return "end-of-rib-received";
    case K::kUpdateReceived:
      return "update-received";
    case K::kEndOfRibSent:
      return "end-of-rib-sent";
    case K::kRouteLimit:
      return "route-limit";
    case K::kPrefixLimit:
      return "prefix-limit";
    case K::kConnectionRejected:
      return "connection-rejected";
    case K::kCollision:
      return "collision";
    case K::kError:
      return "error";
  }
  return "?";
}

std::vector<std::string> validate(const SpeakerConfig& c) {
  std::vector<std::string> errors;
  if (c.local_as == 0) errors.push_back("local AS must not be 0");
  if (c.router_id == Ipv4Address{}) errors.push_back("router id must not be 0.0.0.0");
  if (c.advertisement_interval < Duration::zero()) {
    errors.push_back("advertisement interval must not be negative");
  }
  std::set<Ipv4Address> addresses;
  std::set<std::string> names;
  for (const auto& p : c.peers) {
    const std::string who = "peer " + (p.name.empty() ? to_string(p.address) : p.name);
    if (p.address == Ipv4Address{})
      errors.push_back(who + ": address must not be 0.0.0.0");
    if (!addresses.insert(p.address).second)
      errors.push_back(who + ": address given twice");
    if (!names.insert(p.name.empty() ? to_string(p.address) : p.name).second) {
      errors.push_back(who + ": name given twice");
    }
    if (p.peer_as == 0) errors.push_back(who + ": AS must not be 0");
    if (const auto why = check_hold_time(p.hold_time))
      errors.push_back(who + ": " + *why);
    if (p.port == 0) errors.push_back(who + ": port must not be 0");
    if (p.ttl == 0) errors.push_back(who + ": TTL must be at least 1");
    if (p.gtsm_hops && *p.gtsm_hops == 0)
      errors.push_back(who + ": GTSM hops must be >= 1");
    if (p.export_policy.prepend > kMaxPrepend) {
      errors.push_back(who + ": prepend at most " + std::to_string(kMaxPrepend));
    }
    if (p.export_policy.max_routes == 0)
      errors.push_back(who + ": route limit must be >= 1");
    if (p.max_prefixes_in == 0)
      errors.push_back(who + ": inbound prefix limit must be >= 1");
    if (p.idle_hold_time <= Duration::zero() || p.max_idle_hold_time < p.idle_hold_time) {
      errors.push_back(who + ": idle hold time must be > 0 and <= its maximum");
    }
    if (p.connect_retry_time <= Duration::zero()) {
      errors.push_back(who + ": connect retry time must be > 0");
    }
  }
  return errors;
}

Speaker::Speaker(asio::io_context& io, SpeakerConfig config)
    : impl_(std::make_unique<Impl>(io, std::move(config))) {
  for (const auto& p : impl_->config.peers) {
    impl_->peers.push_back(std::make_unique<Peer>(*impl_, p));
  }
}

Speaker::~Speaker() {
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  impl_->peers.clear();
}

void Speaker::on_event(EventHandler handler) { impl_->handler = std::move(handler); }

std::optional<std::string> Speaker::start() {
  if (impl_->config.listen) {
    boost::system::error_code ec;
    const tcp::endpoint ep(to_asio(impl_->config.listen_address),
                           impl_->config.listen_port);
    impl_->acceptor.open(ep.protocol(), ec);
    if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) impl_->acceptor.bind(ep, ec);
    if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return "listen on " + ep.address().to_string() + ":" + std::to_string(ep.port()) +
             ": " + ec.message();
    impl_->do_accept();
  }
  for (auto& p : impl_->peers) p->start();
  return std::nullopt;
}

void Speaker::Impl::do_accept() {
  acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      boost::system::error_code e2;
      const auto remote = s.remote_endpoint(e2);
      Peer* peer = nullptr;
      if (!e2 && remote.address().is_v4()) {
        const Ipv4Address a = from_asio(remote.address().to_v4());
        for (auto& p : peers) {
          if (p->config().address == a) peer = p.get();
        }
      }
      if (peer != nullptr && !stopping) {
        peer->accept(std::move(s));
      } else {
        SpeakerEvent e;
        e.kind = SpeakerEvent::Kind::kConnectionRejected;
        e.detail = "connection from " +
                   (e2 ? std::string("?") : remote.address().to_string()) +
                   (stopping ? " while stopping" : ", not a configured peer");
        emit(e);
        s.close(e2);
      }
    }
    do_accept();
  });
}

void Speaker::stop(const std::string& communication) {
  impl_->stopping = true;
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  for (auto& p : impl_->peers) p->stop(communication);
}

bool Speaker::stop_peer(const std::string& name, const std::string& communication) {
  Peer* p = impl_->find(name);
  if (p == nullptr) return false;
  p->stop(communication);
  return true;
}

bool Speaker::start_peer(const std::string& name) {
  Peer* p = impl_->find(name);
  if (p == nullptr) return false;
  p->start();
  return true;
}

void Speaker::announce(const Ipv4Prefix& prefix, const RouteAttributes& attributes) {
  impl_->routes[prefix] = attributes;
  for (auto& p : impl_->peers) p->route_changed(prefix);
}

void Speaker::withdraw(const Ipv4Prefix& prefix) {
  if (impl_->routes.erase(prefix) == 0) return;
  for (auto& p : impl_->peers) p->route_changed(prefix);
}

const std::map<Ipv4Prefix, RouteAttributes>& Speaker::routes() const {
  return impl_->routes;
}

std::vector<PeerStatus> Speaker::peers() const {
  std::vector<PeerStatus> out;
  for (const auto& p : impl_->peers) out.push_back(p->status());
  return out;
}

std::map<Ipv4Prefix, PathAttributes> Speaker::received_routes(
    const std::string& name) const {
  Peer* p = impl_->find(name);
  return p != nullptr ? p->rib_in().ipv4() : std::map<Ipv4Prefix, PathAttributes>{};
}

std::map<Ipv4Prefix, PathAttributes> Speaker::sent_routes(const std::string& name) const {
  Peer* p = impl_->find(name);
  return p != nullptr ? p->rib_out().sent() : std::map<Ipv4Prefix, PathAttributes>{};
}

std::uint16_t Speaker::listen_port() const {
  boost::system::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

}  // namespace nva::bgp
