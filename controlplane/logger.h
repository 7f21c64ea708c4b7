// The control plane's log: lines go to a bounded in-memory queue that a
// logger thread writes out, so a blocked stdout (a full pipe nobody reads,
// a stopped terminal) never stalls the caller (the control-plane thread
// that sends KEEPALIVEs); lines of one key are rate-limited and the
// suppressed ones counted.
//
//   log() ----> rate limit per key ----> queue (bounded) ----> logger thread
//     never blocks    over the burst:      full: dropped,       poll(POLLOUT),
//                     suppressed, counted  counted               write(fd)
//
// What is lost is said in the output itself: "log: 12 line(s) dropped (output
// blocked)", "... [37 similar suppressed]", "log: 5 more 'bgp: rs1:
// update-received' line(s) suppressed".
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace nva::logging {

inline constexpr std::size_t kDefaultQueueLines = 4096;
inline constexpr std::chrono::milliseconds kDefaultWindow{1000};
inline constexpr unsigned kDefaultBurst = 10;
// Longer lines are cut (with "...") so that one write of a line fits a pipe
// that poll() reports writable: the logger thread never blocks in write().
inline constexpr std::size_t kMaxLineLength = 4000;
// Distinct keys tracked per window; past it, lines share one "(other)" key.
inline constexpr std::size_t kMaxKeys = 1024;
// At exit, what is queued is written for at most this long.
inline constexpr std::chrono::milliseconds kExitGrace{1000};

struct LoggerConfig {
  std::size_t queue_lines = kDefaultQueueLines;
  // At most `burst` lines of one key per `window`; the rest are suppressed.
  std::chrono::milliseconds window = kDefaultWindow;
  unsigned burst = kDefaultBurst;
};

struct LoggerStats {
  std::uint64_t queued = 0;      // accepted into the queue
  std::uint64_t written = 0;     // lines written out (summaries included)
  std::uint64_t dropped = 0;     // queue full (output blocked)
  std::uint64_t suppressed = 0;  // over a key's burst
};

class Logger {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  // Writes to `fd` (not owned) from its own thread. `now` is the rate
  // limiter's clock (tests step it).
  explicit Logger(int fd, LoggerConfig config = {}, Now now = &Clock::now);
  // Writes what is queued for at most kExitGrace, then stops.
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Queues `line` (a newline is added); never blocks on the output. Lines
  // with the same non-empty `key` share a rate limit; an empty key means
  // the line itself is the key (exact repeats are limited).
  void log(std::string_view key, std::string line);
  // Waits until everything queued is written, at most `timeout`; true if so.
  bool flush(std::chrono::milliseconds timeout);
  LoggerStats stats() const;

 private:
  struct KeyState {
    Clock::time_point window_start{};
    unsigned in_window = 0;
    std::uint64_t suppressed = 0;  // in the current window
  };
  void run();
  bool write_line(const std::string& line);  // false: stopping and blocked
  void push_locked(std::string line);
  void summarise_locked(Clock::time_point now);

  const int fd_;
  const LoggerConfig config_;
  const Now now_;
  mutable std::mutex mu_;
  std::condition_variable wake_;     // work for the logger thread
  std::condition_variable written_;  // the queue got written
  std::deque<std::string> queue_;
  std::map<std::string, KeyState, std::less<>> keys_;
  std::uint64_t dropped_pending_ = 0;  // dropped since the last notice
  bool busy_ = false;                  // the thread holds lines being written
  bool kick_ = false;                  // flush(): one more round (summaries)
  bool stop_ = false;
  Clock::time_point stop_deadline_{};
  LoggerStats stats_;
  std::thread thread_;
};

// The process's logger on stdout, made on first use.
Logger& stdout_logger();
// stdout_logger().log(key, line).
void line(std::string_view key, std::string text);

}  // namespace nva::logging
