// Azure Scheduled Events (scheduled_events.h): the document's parser and the
// poller, HTTP/1.1 by Boost.Beast over Asio.
#include <utility>  // before Asio: Debian's Boost uses std::exchange without it

#include "controlplane/azure/scheduled_events.h"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace nva::azure {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kMaxBody = 1 << 20;  // a document of a few events is < 4 KiB

std::string text_field(const nlohmann::json& o, const char* key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::optional<EventsDocument> parse_events(std::string_view body, std::string* error) {
  auto refuse = [error](std::string why) -> std::optional<EventsDocument> {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  };
  const nlohmann::json j =
      nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return refuse("not JSON");
  if (!j.is_object()) return refuse("not a JSON object");
  EventsDocument doc;
  if (const auto it = j.find("DocumentIncarnation"); it != j.end()) {
    if (!it->is_number_integer()) return refuse("DocumentIncarnation is not an integer");
    doc.incarnation = it->get<std::int64_t>();
  }
  const auto events = j.find("Events");
  if (events == j.end() || !events->is_array()) return refuse("no Events array");
  for (const nlohmann::json& e : *events) {
    if (!e.is_object()) return refuse("an event is not an object");
    ScheduledEvent ev;
    ev.id = text_field(e, "EventId");
    ev.type = text_field(e, "EventType");
    if (ev.id.empty()) return refuse("an event without EventId");
    if (ev.type.empty()) return refuse("event " + ev.id + " without EventType");
    ev.status = text_field(e, "EventStatus");
    ev.not_before = text_field(e, "NotBefore");
    ev.source = text_field(e, "EventSource");
    if (const auto d = e.find("DurationInSeconds");
        d != e.end() && d->is_number_integer())
      ev.duration_s = d->get<std::int64_t>();
    if (const auto r = e.find("Resources"); r != e.end() && r->is_array()) {
      for (const nlohmann::json& name : *r)
        if (name.is_string()) ev.resources.push_back(name.get<std::string>());
    }
    doc.events.push_back(std::move(ev));
  }
  return doc;
}

bool needs_drain(std::string_view type) {
  return type == "Freeze" || type == "Reboot" || type == "Redeploy" ||
         type == "Preempt" || type == "Terminate";
}

std::vector<ScheduledEvent> concerning(const EventsDocument& doc, std::string_view vm) {
  std::vector<ScheduledEvent> out;
  for (const ScheduledEvent& e : doc.events) {
    if (!needs_drain(e.type)) continue;
    if (std::find(e.resources.begin(), e.resources.end(), vm) != e.resources.end())
      out.push_back(e);
  }
  return out;
}

std::string start_requests_body(const std::vector<std::string>& ids) {
  nlohmann::json starts = nlohmann::json::array();
  for (const std::string& id : ids) starts.push_back({{"EventId", id}});
  return nlohmann::json{{"StartRequests", starts}}.dump();
}

// One HTTP request and its answer: resolve, connect, write, read, each under
// the one deadline. done(error, status, body): error empty on an answer.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  using Done =
      std::function<void(const std::string& error, unsigned status, std::string body)>;

  Exchange(asio::io_context& io, const PollerConfig& c, http::verb verb,
           const std::string& target, std::string body, Done done)
      : resolver_(io),
        stream_(io),
        host_(c.host),
        port_(std::to_string(c.port)),
        timeout_(c.timeout),
        done_(std::move(done)) {
    req_.method(verb);
    req_.target(target);
    req_.version(11);
    req_.set(http::field::host, c.host);
    req_.set("Metadata", "true");
    req_.set(http::field::user_agent, "anycast-nva");
    req_.set(http::field::connection, "close");
    if (verb == http::verb::post) {
      req_.set(http::field::content_type, "application/json");
      req_.body() = std::move(body);
      req_.prepare_payload();
    }
    parser_.body_limit(kMaxBody);
  }

  void run() {
    stream_.expires_after(timeout_);
    resolver_.async_resolve(
        host_, port_,
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type r) {
          if (ec) return self->finish("resolve: " + ec.message());
          self->stream_.async_connect(r, [self](beast::error_code ec2,
                                                const tcp::endpoint&) {
            if (ec2) return self->finish(self->phase("connect", ec2));
            http::async_write(
                self->stream_, self->req_, [self](beast::error_code ec3, std::size_t) {
                  if (ec3) return self->finish(self->phase("write", ec3));
                  http::async_read(self->stream_, self->buf_, self->parser_,
                                   [self](beast::error_code ec4, std::size_t) {
                                     if (ec4)
                                       return self->finish(self->phase("read", ec4));
                                     self->finish({});
                                   });
                });
          });
        });
  }

  void cancel() {
    cancelled_ = true;
    resolver_.cancel();
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

 private:
  std::string phase(const char* what, const beast::error_code& ec) const {
    if (ec == beast::error::timeout)
      return std::string("timeout after ") + std::to_string(timeout_.count()) + " ms (" +
             what + ")";
    return std::string(what) + ": " + ec.message();
  }
  void finish(const std::string& error) {
    if (cancelled_ || finished_) return;
    finished_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    if (!error.empty()) return done_(error, 0, {});
    auto& res = parser_.get();
    done_({}, res.result_int(), std::move(res.body()));
  }

  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  std::string host_, port_;
  std::chrono::milliseconds timeout_;
  Done done_;
  http::request<http::string_body> req_;
  http::response_parser<http::string_body> parser_;
  beast::flat_buffer buf_;
  bool cancelled_ = false, finished_ = false;
};

struct Poller::State : std::enable_shared_from_this<Poller::State> {
  State(asio::io_context& i, PollerConfig c, OnEvents e, Log l)
      : io(i), cfg(std::move(c)), on_events(std::move(e)), log(std::move(l)), timer(i) {
    status.vm_name = cfg.vm_name;
  }

  // Starts an exchange that calls back only while this state lives.
  void request(http::verb verb, const std::string& target, std::string body,
               std::function<void(State&, const std::string&, unsigned, std::string)> f) {
    auto x = std::make_shared<Exchange>(
        io, cfg, verb, target, std::move(body),
        [weak = weak_from_this(), f](const std::string& err, unsigned code,
                                     std::string b) {
          if (const auto self = weak.lock(); self && !self->stopped)
            f(*self, err, code, std::move(b));
        });
    in_flight.erase(
        std::remove_if(in_flight.begin(), in_flight.end(),
                       [](const std::weak_ptr<Exchange>& w) { return w.expired(); }),
        in_flight.end());
    in_flight.push_back(x);
    x->run();
  }

  void failed(const std::string& what) {
    ++status.failures;
    if (status.last_error != what) log("azure: scheduled events: " + what);
    status.last_error = what;
  }

  void schedule() {
    timer.expires_after(cfg.interval);
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (const auto self = weak.lock(); self && !ec && !self->stopped) self->poll();
    });
  }

  void poll() {
    if (status.vm_name.empty()) {
      request(http::verb::get, cfg.name_path, {},
              [](State& s, const std::string& err, unsigned code, std::string body) {
                while (!body.empty() && (body.back() == '\n' || body.back() == '\r'))
                  body.pop_back();
                if (!err.empty()) {
                  s.failed("the VM's name: " + err);
                } else if (code != 200 || body.empty() || body.size() > 64) {
                  s.failed("the VM's name: http " + std::to_string(code));
                } else {
                  s.status.vm_name = body;
                  s.status.last_error.clear();
                  s.log("azure: scheduled events: this VM is " + body);
                  return s.poll();
                }
                s.schedule();
              });
      return;
    }
    request(http::verb::get, cfg.events_path, {},
            [](State& s, const std::string& err, unsigned code, std::string body) {
              s.answered(err, code, body);
              s.schedule();
            });
  }

  void answered(const std::string& err, unsigned code, const std::string& body) {
    if (!err.empty()) return failed(err);
    if (code != 200) return failed("http " + std::to_string(code));
    std::string why;
    const auto doc = parse_events(body, &why);
    if (!doc) return failed("the answer is not a Scheduled Events document: " + why);
    ++status.polls;
    status.last_error.clear();
    status.incarnation = doc->incarnation;
    status.concerning = concerning(*doc, status.vm_name);
    on_events(status.concerning);
  }

  asio::io_context& io;
  PollerConfig cfg;
  OnEvents on_events;
  Log log;
  asio::steady_timer timer;
  PollerStatus status;
  std::vector<std::weak_ptr<Exchange>> in_flight;
  bool stopped = false;
};

Poller::Poller(asio::io_context& io, PollerConfig config, OnEvents on_events, Log log)
    : state_(std::make_shared<State>(io, std::move(config), std::move(on_events),
                                     std::move(log))) {}

Poller::~Poller() {
  state_->stopped = true;
  state_->timer.cancel();
  for (const auto& w : state_->in_flight)
    if (const auto x = w.lock()) x->cancel();
}

void Poller::start() { state_->poll(); }

void Poller::acknowledge(const std::vector<std::string>& ids, Done done) {
  state_->request(http::verb::post, state_->cfg.events_path, start_requests_body(ids),
                  [done = std::move(done), n = ids.size()](
                      State& s, const std::string& err, unsigned code, std::string) {
                    if (!err.empty()) return done(false, err);
                    const std::string detail = "http " + std::to_string(code);
                    if (code != 200) return done(false, detail);
                    s.status.acknowledged += n;
                    done(true, detail);
                  });
}

const PollerStatus& Poller::status() const { return state_->status; }

}  // namespace nva::azure
