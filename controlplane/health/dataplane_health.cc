// Data-plane health (see dataplane_health.h).
#include "controlplane/health/dataplane_health.h"

namespace nva::health {

bool DataplaneHealth::update(const DataplaneSample& s, Clock::time_point now) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  if (!started_ || beats_.size() != s.heartbeats.size()) {
    started_ = true;
    beats_ = s.heartbeats;
    moved_.assign(s.heartbeats.size(), now);
    window_end_ = now + cfg_.window;
    handoff_at_window_ = s.handoff_dropped;
    sent_at_window_ = s.handoff_sent;
  }
  std::string why;
  auto add = [&why](const std::string& r) { why += (why.empty() ? "" : "; ") + r; };
  for (std::size_t i = 0; i < s.heartbeats.size(); ++i) {
    if (s.heartbeats[i] != beats_[i]) {
      beats_[i] = s.heartbeats[i];
      moved_[i] = now;
    } else if (now - moved_[i] > cfg_.watchdog) {
      add("worker " + std::to_string(i) + " heartbeat stopped " +
          std::to_string(duration_cast<milliseconds>(now - moved_[i]).count()) +
          " ms ago");
    }
  }
  for (const auto& [name, up] : s.links) {
    if (!up) add("port " + name + " link down");
  }
  // A window is bad for buffers if every sample in it was low, for handoff
  // if enough of what was handed off in it was dropped.
  if (static_cast<std::uint64_t>(s.mbufs_free) * 100 >=
      static_cast<std::uint64_t>(s.mbufs_total) * cfg_.mbufs_low_percent) {
    mbufs_ok_in_window_ = true;
  }
  if (now >= window_end_) {
    window_end_ = now + cfg_.window;
    mbufs_bad_ = mbufs_ok_in_window_ ? 0 : mbufs_bad_ + 1;
    mbufs_ok_in_window_ = false;
    const std::uint64_t dropped = s.handoff_dropped - handoff_at_window_;
    const std::uint64_t tried = dropped + (s.handoff_sent - sent_at_window_);
    const bool bad = dropped >= cfg_.handoff_min_drops &&
                     dropped * 100 >= tried * cfg_.handoff_drop_percent;
    handoff_bad_ = bad ? handoff_bad_ + 1 : 0;
    if (bad) last_drop_percent_ = dropped * 100 / tried;
    handoff_at_window_ = s.handoff_dropped;
    sent_at_window_ = s.handoff_sent;
  }
  const auto sustained = std::to_string(
      duration_cast<milliseconds>(cfg_.window * cfg_.exhausted_windows).count());
  if (mbufs_bad_ >= cfg_.exhausted_windows) {
    add("packet buffers exhausted (" + std::to_string(s.mbufs_free) + " of " +
        std::to_string(s.mbufs_total) + " free) for " + sustained + " ms");
  }
  if (handoff_bad_ >= cfg_.exhausted_windows) {
    add("handoff rings dropping " + std::to_string(last_drop_percent_) +
        " % of handed-off packets for " + sustained + " ms");
  }
  const bool ok = why.empty();
  const bool changed = ok != ok_;
  ok_ = ok;
  reason_ = std::move(why);
  return changed;
}

}  // namespace nva::health
