// Azure maintenance (maintenance.h).
#include "controlplane/daemon/maintenance.h"

#include <algorithm>
#include <utility>

namespace nva {

namespace {
constexpr std::chrono::seconds kAckRetry{1};

std::string describe(const azure::ScheduledEvent& e) {
  std::string s = e.type + " " + e.id + " (" + (e.status.empty() ? "?" : e.status);
  if (!e.not_before.empty()) s += ", not before " + e.not_before;
  return s + ")";
}
}  // namespace

std::string_view Maintenance::state_name(State s) {
  switch (s) {
    case State::kIdle:
      return "idle";
    case State::kDraining:
      return "draining";
    case State::kAcknowledged:
      return "acknowledged";
  }
  return "?";
}

Maintenance::Maintenance(boost::asio::io_context& io, azure::PollerConfig poller,
                         std::chrono::milliseconds drain_time, Hooks hooks)
    : drain_time_(drain_time), hooks_(std::move(hooks)) {
  poller_ = std::make_unique<azure::Poller>(
      io, std::move(poller),
      [this](const std::vector<azure::ScheduledEvent>& events) {
        on_events(events, Clock::now());
      },
      [this](std::string line) { hooks_.log(line); });
}

Maintenance::~Maintenance() = default;

void Maintenance::start() { poller_->start(); }

const azure::PollerStatus& Maintenance::poller() const { return poller_->status(); }

void Maintenance::on_events(const std::vector<azure::ScheduledEvent>& events,
                            Clock::time_point now) {
  std::vector<std::string> described;
  for (const auto& e : events) described.push_back(describe(e));
  if (events.empty()) {
    if (state_ != State::kIdle) {
      hooks_.log(
          "azure: maintenance over (no event for this VM): the VIPs go back to "
          "their health decisions");
      hooks_.release();
      state_ = State::kIdle;
      pending_.clear();
      acked_.clear();
    }
    described_.clear();
    return;
  }
  described_ = described;
  for (const auto& e : events) {
    if (acked_.count(e.id) == 0 &&
        std::find(pending_.begin(), pending_.end(), e.id) == pending_.end())
      pending_.push_back(e.id);
  }
  if (state_ == State::kIdle) {
    std::string what = described.front();
    for (std::size_t i = 1; i < described.size(); ++i) what += ", " + described[i];
    const std::size_t n = hooks_.hold("maintenance: " + what);
    hooks_.log(
        "azure: scheduled " + what + " for this VM: " + std::to_string(n) +
        " VIP(s) taken down; acknowledging once the connections are gone (at most " +
        std::to_string(drain_time_.count()) + " ms)");
    state_ = State::kDraining;
    deadline_ = now + drain_time_;
    retry_at_ = now;
  } else if (state_ == State::kAcknowledged && !pending_.empty()) {
    acknowledge();  // drained already: a new event is acknowledged at once
  }
}

void Maintenance::tick(Clock::time_point now) {
  if (state_ != State::kDraining || acking_ || now < retry_at_) return;
  const std::uint64_t active = hooks_.active();
  if (active != 0 && now < deadline_) return;
  acknowledge();
}

void Maintenance::acknowledge() {
  if (acking_ || pending_.empty()) return;
  acking_ = true;
  const std::vector<std::string> ids = pending_;
  const std::uint64_t active = hooks_.active();
  poller_->acknowledge(ids, [this, ids, active](bool ok, const std::string& detail) {
    acking_ = false;
    std::string list;
    for (const auto& id : ids) list += (list.empty() ? "" : ", ") + id;
    if (!ok) {
      hooks_.log("azure: acknowledging " + list + " failed (" + detail +
                 "); again in 1 s");
      retry_at_ = Clock::now() + kAckRetry;
      return;
    }
    for (const auto& id : ids) {
      acked_.insert(id);
      pending_.erase(std::remove(pending_.begin(), pending_.end(), id), pending_.end());
    }
    if (state_ == State::kDraining) state_ = State::kAcknowledged;
    hooks_.log("azure: acknowledged " + list + " (StartRequests, " + detail + ") with " +
               std::to_string(active) + " connection(s) active");
  });
}

}  // namespace nva
