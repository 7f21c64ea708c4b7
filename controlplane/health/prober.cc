// Prober on Boost.Asio: one Probe (timers, socket, rise/fall) per target,
// held by shared_ptr so that completions arriving after remove() or
// ~Prober() find it stopped and do nothing.
#include <utility>  // before Asio: Debian's Boost uses std::exchange without it

#include "controlplane/health/prober.h"

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <cmath>
#include <map>
#include <stdexcept>

namespace nva::health {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

std::string ms_string(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " ms";
}

// "HTTP/" 1*DIGIT ["." 1*DIGIT] SP 3DIGIT [SP reason]: the status code, or
// nullopt when the line is not a status line.
std::optional<unsigned> parse_status_line(std::string_view line) {
  constexpr std::string_view kPrefix = "HTTP/";
  if (line.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::size_t i = kPrefix.size();
  const auto digits = [&] {
    const std::size_t from = i;
    while (i < line.size() && line[i] >= '0' && line[i] <= '9') ++i;
    return i - from;
  };
  if (digits() == 0) return std::nullopt;
  if (i < line.size() && line[i] == '.') {
    ++i;
    if (digits() == 0) return std::nullopt;
  }
  if (i >= line.size() || line[i] != ' ') return std::nullopt;
  ++i;
  const std::size_t code_at = i;
  if (digits() != 3) return std::nullopt;
  if (i < line.size() && line[i] != ' ') return std::nullopt;
  unsigned code = 0;
  for (std::size_t k = code_at; k < code_at + 3; ++k) {
    code = code * 10 + static_cast<unsigned>(line[k] - '0');
  }
  if (code < 100 || code > 599) return std::nullopt;
  return code;
}

// At most `max` characters of what the peer sent, non-printable ones as '?'.
std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  for (const char c : s.substr(0, max)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (s.size() > max) out += "...";
  return out;
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::string_view probe_kind_name(ProbeKind k) {
  switch (k) {
    case ProbeKind::kNone:
      return "none";
    case ProbeKind::kTcp:
      return "tcp";
    case ProbeKind::kHttp:
      return "http";
  }
  return "unknown";
}

std::optional<std::string> check_http_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return "must start with '/'";
  if (path.size() > kMaxHttpPath) {
    return "must be at most " + std::to_string(kMaxHttpPath) + " characters";
  }
  for (const char ch : path) {
    const auto u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u >= 0x7f) {
      return "must hold only visible ASCII (no spaces, controls or non-ASCII bytes; "
             "percent-encode them)";
    }
  }
  return std::nullopt;
}

std::vector<std::string> validate(const ProbeConfig& c) {
  std::vector<std::string> errors;
  if (c.kind != ProbeKind::kNone && c.kind != ProbeKind::kTcp &&
      c.kind != ProbeKind::kHttp) {
    errors.push_back("probe kind must be none, tcp or http");
  }
  if (c.interval <= std::chrono::milliseconds::zero())
    errors.push_back("interval must be > 0 ms");
  if (c.timeout <= std::chrono::milliseconds::zero()) {
    errors.push_back("timeout must be > 0 ms");
  } else if (c.interval > std::chrono::milliseconds::zero() && c.timeout > c.interval) {
    errors.push_back("timeout (" + ms_string(c.timeout) +
                     ") must not exceed the interval (" + ms_string(c.interval) + ")");
  }
  if (c.rise < 1) errors.push_back("rise must be >= 1");
  if (c.fall < 1) errors.push_back("fall must be >= 1");
  if (const auto why = check_http_path(c.http_path))
    errors.push_back("http path " + *why);
  if (c.http_status < kMinHttpStatus || c.http_status > kMaxHttpStatus) {
    errors.push_back("http status must be in " + std::to_string(kMinHttpStatus) + ".." +
                     std::to_string(kMaxHttpStatus));
  }
  return errors;
}

std::string format_target(const Target& t) {
  return asio::ip::address_v4(t.addr).to_string() + ":" + std::to_string(t.port);
}

std::chrono::microseconds initial_delay(std::uint64_t seed, std::size_t id,
                                        std::chrono::milliseconds interval) {
  const auto span = std::chrono::duration_cast<std::chrono::microseconds>(interval) / 2;
  if (span <= std::chrono::microseconds::zero()) return std::chrono::microseconds::zero();
  // Weyl sequence: id * golden ratio (mod 1) fills [0, 1) evenly in order.
  const std::uint64_t x =
      splitmix64(seed) + static_cast<std::uint64_t>(id) * 0x9e3779b97f4a7c15ULL;
  const double fraction = static_cast<double>(x >> 11) * 0x1.0p-53;
  return std::chrono::microseconds(static_cast<std::int64_t>(
      std::floor(fraction * static_cast<double>(span.count()))));
}

namespace {

// One target: waits for its next start, runs one probe (connect, then for
// HTTP request and status line) under a deadline, records the result.
//
//   idle --next_ fires--> connecting --tcp: connected--> idle (success)
//                              |      --http--> sending --> reading --> idle
//   any phase --deadline_ fires / error--> idle (failure)
//
// gen_ numbers the probes: a completion of an earlier probe (aborted when
// its socket was closed) is ignored.
class Probe : public std::enable_shared_from_this<Probe> {
 public:
  Probe(asio::io_context& io, std::size_t id, Target t, ProbeConfig c, ChangeHandler h)
      : io_(io),
        id_(id),
        config_(std::move(c)),
        on_change_(std::move(h)),
        rise_fall_(config_.rise, config_.fall),
        next_(io),
        deadline_(io),
        socket_(io) {
    status_.target = t;
    status_.kind = config_.kind;
    if (config_.kind == ProbeKind::kHttp) {
      request_ = "GET " + config_.http_path +
                 " HTTP/1.0\r\nHost: " + asio::ip::address_v4(t.addr).to_string() +
                 "\r\nConnection: close\r\nUser-Agent: anycast-nva\r\n\r\n";
    }
  }

  void start(std::chrono::microseconds first_delay) {
    if (config_.kind == ProbeKind::kNone) {
      // Nothing to probe: healthy, reported once (never from inside add()).
      asio::post(io_, [self = shared_from_this()] {
        if (self->stopped_) return;
        self->status_.last_detail = "no probe (kind none)";
        self->report(true, Clock::now());
      });
      return;
    }
    schedule(Clock::now() + first_delay);
  }

  void stop() {
    stopped_ = true;
    status_.in_flight = false;
    next_.cancel();
    deadline_.cancel();
    close_socket();
  }

  const BackendStatus& status() const { return status_; }

 private:
  enum class Phase : std::uint8_t { kIdle, kConnecting, kSending, kReading };

  static std::string_view phase_name(Phase p) {
    switch (p) {
      case Phase::kIdle:
        return "idle";
      case Phase::kConnecting:
        return "connecting";
      case Phase::kSending:
        return "sending the request";
      case Phase::kReading:
        return "waiting for the status line";
    }
    return "unknown";
  }

  bool live(std::uint64_t gen) const {
    return !stopped_ && status_.in_flight && gen == gen_;
  }

  void schedule(Clock::time_point at) {
    next_.expires_at(at);
    next_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->stopped_) return;
      self->begin();
    });
  }

  void begin() {
    const std::uint64_t gen = ++gen_;
    started_ = Clock::now();
    status_.in_flight = true;
    response_.clear();
    deadline_.expires_at(started_ + config_.timeout);
    deadline_.async_wait(
        [self = shared_from_this(), gen](const boost::system::error_code& ec) {
          if (ec || !self->live(gen)) return;
          self->finish(false, "timeout after " + ms_string(self->config_.timeout) + " (" +
                                  std::string(phase_name(self->phase_)) + ")");
        });

    boost::system::error_code ec;
    socket_ = tcp::socket(io_);
    socket_.open(tcp::v4(), ec);
    if (ec) return finish(false, "socket: " + ec.message());
    if (config_.source) {
      socket_.bind(tcp::endpoint(asio::ip::address_v4(*config_.source), 0), ec);
      if (ec) return finish(false, "bind: " + ec.message());
    }
    phase_ = Phase::kConnecting;
    socket_.async_connect(
        tcp::endpoint(asio::ip::address_v4(status_.target.addr), status_.target.port),
        [self = shared_from_this(), gen](const boost::system::error_code& e) {
          self->on_connect(gen, e);
        });
  }

  void on_connect(std::uint64_t gen, const boost::system::error_code& ec) {
    if (!live(gen)) return;
    if (ec) return finish(false, "connect: " + ec.message());
    if (config_.kind == ProbeKind::kTcp) return finish(true, "connected");
    phase_ = Phase::kSending;
    asio::async_write(
        socket_, asio::buffer(request_),
        [self = shared_from_this(), gen](const boost::system::error_code& e,
                                         std::size_t) { self->on_sent(gen, e); });
  }

  void on_sent(std::uint64_t gen, const boost::system::error_code& ec) {
    if (!live(gen)) return;
    if (ec) return finish(false, "http: send: " + ec.message());
    phase_ = Phase::kReading;
    asio::async_read_until(socket_, asio::dynamic_buffer(response_, kMaxStatusLine), '\n',
                           [self = shared_from_this(), gen](
                               const boost::system::error_code& e, std::size_t n) {
                             self->on_status_line(gen, e, n);
                           });
  }

  void on_status_line(std::uint64_t gen, const boost::system::error_code& ec,
                      std::size_t n) {
    if (!live(gen)) return;
    std::string_view line = response_;
    if (!ec) {
      line = line.substr(0, n - 1);  // without the LF
    } else if (ec == asio::error::not_found) {
      return finish(false, "http: no status line within " +
                               std::to_string(kMaxStatusLine) + " bytes");
    } else if (ec == asio::error::eof) {
      // A status line the server closed after without a line end still counts.
      if (response_.empty()) {
        return finish(false, "http: connection closed before the status line");
      }
    } else {
      return finish(false, "http: read: " + ec.message());
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto code = parse_status_line(line);
    if (!code) {
      return finish(false, "http: malformed status line \"" + printable(line, 64) + "\"");
    }
    if (*code != config_.http_status) {
      return finish(false, "http " + std::to_string(*code) + " (expected " +
                               std::to_string(config_.http_status) + ")");
    }
    finish(true, "http " + std::to_string(*code));
  }

  // The one place a probe ends: counters, rise/fall, the handler, the next
  // start (`interval` after this one started, or at once if it ended later).
  void finish(bool ok, std::string detail) {
    status_.in_flight = false;
    phase_ = Phase::kIdle;
    deadline_.cancel();
    close_socket();
    const auto now = Clock::now();
    status_.last_rtt =
        std::chrono::duration_cast<std::chrono::microseconds>(now - started_);
    ++status_.probes;
    ++(ok ? status_.successes : status_.failures);
    status_.last_detail = std::move(detail);
    report(ok, now);
    if (!stopped_) schedule(started_ + config_.interval);
  }

  void report(bool ok, Clock::time_point now) {
    const bool changed = rise_fall_.record(ok);
    status_.healthy = rise_fall_.healthy();
    status_.streak = rise_fall_.streak();
    if (!changed) return;
    ++status_.transitions;
    status_.last_change = now;
    // The handler may remove this probe or destroy the Prober: keep it alive.
    auto self = shared_from_this();
    if (on_change_) on_change_(id_, status_);
  }

  void close_socket() {
    if (!socket_.is_open()) return;
    boost::system::error_code ignored;
    // Abort with RST rather than FIN: a probe every 300 ms per backend would
    // otherwise leave a TIME_WAIT socket behind each time (HAProxy does the
    // same for its checks).
    socket_.set_option(asio::socket_base::linger(true, 0), ignored);
    socket_.close(ignored);
  }

  asio::io_context& io_;
  std::size_t id_;
  ProbeConfig config_;
  ChangeHandler on_change_;
  RiseFall rise_fall_;
  BackendStatus status_;
  asio::steady_timer next_;
  asio::steady_timer deadline_;
  tcp::socket socket_;
  std::string request_;
  std::string response_;
  Clock::time_point started_{};
  std::uint64_t gen_ = 0;
  Phase phase_ = Phase::kIdle;
  bool stopped_ = false;
};

}  // namespace

struct Prober::Impl {
  Impl(asio::io_context& i, std::uint64_t s) : io(i), seed(s) {}
  ~Impl() {
    for (auto& [id, probe] : probes) probe->stop();
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  asio::io_context& io;
  std::uint64_t seed;
  std::size_t next_id = 1;
  std::map<std::size_t, std::shared_ptr<Probe>> probes;
};

Prober::Prober(asio::io_context& io, std::uint64_t jitter_seed)
    : impl_(std::make_unique<Impl>(io, jitter_seed)) {}

Prober::~Prober() = default;

std::size_t Prober::add(Target t, ProbeConfig c, ChangeHandler on_change) {
  if (const auto errors = validate(c); !errors.empty()) {
    std::string message = "health probe for " + format_target(t) + ":";
    for (const auto& e : errors) message += " " + e + ";";
    message.pop_back();
    throw std::invalid_argument(message);
  }
  const std::size_t id = impl_->next_id++;
  const auto delay = initial_delay(impl_->seed, id, c.interval);
  auto probe =
      std::make_shared<Probe>(impl_->io, id, t, std::move(c), std::move(on_change));
  impl_->probes.emplace(id, probe);
  probe->start(delay);
  return id;
}

void Prober::remove(std::size_t id) {
  const auto it = impl_->probes.find(id);
  if (it == impl_->probes.end()) return;
  it->second->stop();
  impl_->probes.erase(it);
}

bool Prober::contains(std::size_t id) const { return impl_->probes.contains(id); }

BackendStatus Prober::status(std::size_t id) const {
  const auto it = impl_->probes.find(id);
  if (it == impl_->probes.end()) {
    throw std::out_of_range("health probe " + std::to_string(id) + " does not exist");
  }
  return it->second->status();
}

std::vector<std::size_t> Prober::ids() const {
  std::vector<std::size_t> out;
  out.reserve(impl_->probes.size());
  for (const auto& [id, probe] : impl_->probes) out.push_back(id);
  return out;
}

}  // namespace nva::health
