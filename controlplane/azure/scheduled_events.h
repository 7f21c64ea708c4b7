// Azure Scheduled Events: the Instance Metadata Service's notice of
// maintenance that affects this VM (Freeze, Reboot, Redeploy, Preempt,
// Terminate), polled over HTTP on the control plane's io_context, so the
// daemon can take its VIPs down before the VM stops and acknowledge the
// event (StartRequests) once it has. Minimum notices: 15 min (Freeze,
// Reboot), 10 min (Redeploy), 30 s (Preempt); Terminate is configurable
// (5-15 min).
//
//   GET  /metadata/scheduledevents?api-version=2020-07-01   Metadata: true
//        {"DocumentIncarnation": 3, "Events": [{"EventId": "...",
//         "EventType": "Reboot", "ResourceType": "VirtualMachine",
//         "Resources": ["nva-a-1"], "EventStatus": "Scheduled",
//         "NotBefore": "Mon, 19 Sep 2016 18:29:47 GMT", ...}]}
//   POST the same, {"StartRequests": [{"EventId": "..."}]}: go ahead now
//
// The VM's own name (which events concern it) comes from the configuration
// or from IMDS (/metadata/instance/compute/name).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace nva::azure {

struct ScheduledEvent {
  std::string id;
  std::string type;    // Freeze, Reboot, Redeploy, Preempt, Terminate, ...
  std::string status;  // Scheduled, Started
  std::vector<std::string> resources;
  std::string not_before;  // as IMDS writes it; empty once Started
  std::string source;      // Platform, User
  std::int64_t duration_s = -1;
  bool operator==(const ScheduledEvent&) const = default;
};

struct EventsDocument {
  std::int64_t incarnation = 0;
  std::vector<ScheduledEvent> events;
};

// The document from IMDS's JSON; nullopt with `error` set when it is not
// one (not JSON, no Events array, an event without EventId or EventType).
// Unknown fields are ignored; it never throws.
std::optional<EventsDocument> parse_events(std::string_view body, std::string* error);

// Whether an event of `type` takes this VM away (the daemon drains for it):
// Freeze, Reboot, Redeploy, Preempt, Terminate. Not: LiveMigration (no
// downtime worth a withdrawal) or a type not known yet.
bool needs_drain(std::string_view type);

// The events of `doc` that need a drain and name `vm` among their resources.
std::vector<ScheduledEvent> concerning(const EventsDocument& doc, std::string_view vm);

// {"StartRequests":[{"EventId":"..."}, ...]}
std::string start_requests_body(const std::vector<std::string>& ids);

struct PollerConfig {
  std::string host = "169.254.169.254";
  std::uint16_t port = 80;
  std::string events_path = "/metadata/scheduledevents?api-version=2020-07-01";
  std::string name_path =
      "/metadata/instance/compute/name?api-version=2021-02-01&format=text";
  std::chrono::milliseconds interval{1000};  // Azure suggests polling every second
  std::chrono::milliseconds timeout{2000};   // one request, connect to last byte
  std::string vm_name;                       // empty: asked of IMDS first
};

struct PollerStatus {
  std::string vm_name;  // empty until known
  std::uint64_t polls = 0, failures = 0, acknowledged = 0;
  std::string last_error;  // of the last failed request; cleared by a success
  std::int64_t incarnation = -1;
  std::vector<ScheduledEvent> concerning;  // the last document's, for this VM
};

// Polls on one io_context (all calls and callbacks on its thread).
class Poller {
 public:
  // After every successful poll: the events that concern this VM (empty
  // when none); not called when a poll fails (the last answer stands).
  using OnEvents = std::function<void(const std::vector<ScheduledEvent>& events)>;
  using Log = std::function<void(std::string line)>;
  using Done = std::function<void(bool ok, const std::string& detail)>;

  Poller(boost::asio::io_context& io, PollerConfig config, OnEvents on_events, Log log);
  ~Poller();  // cancels what is in flight; no callback runs after it
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  void start();
  // POSTs StartRequests for `ids`; `done` gets the outcome ("http 200").
  void acknowledge(const std::vector<std::string>& ids, Done done);
  const PollerStatus& status() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace nva::azure
