// Logger: the rate limiter and bounded queue (callers' threads, under the
// mutex, no I/O) and the writer (its own thread, poll() then write()).
#include "controlplane/logger.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <vector>

namespace nva::logging {

namespace {

constexpr int kPollMs = 100;  // how often a blocked writer checks for stop

}  // namespace

Logger::Logger(int fd, LoggerConfig config, Now now)
    : fd_(fd), config_(config), now_(std::move(now)) {
  thread_ = std::thread([this] { run(); });
}

Logger::~Logger() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    stop_deadline_ = Clock::now() + kExitGrace;
  }
  wake_.notify_all();
  thread_.join();
}

void Logger::push_locked(std::string line) {
  if (queue_.size() >= config_.queue_lines) {
    ++stats_.dropped;
    ++dropped_pending_;
    return;
  }
  ++stats_.queued;
  queue_.push_back(std::move(line));
}

void Logger::log(std::string_view key, std::string line) {
  if (line.size() > kMaxLineLength) {
    line.resize(kMaxLineLength - 3);
    line += "...";
  }
  const Clock::time_point now = now_();
  {
    std::lock_guard<std::mutex> lk(mu_);
    const std::string_view k = key.empty() ? std::string_view(line) : key;
    auto it = keys_.find(k);
    if (it == keys_.end()) {
      if (keys_.size() >= kMaxKeys) {
        it = keys_.try_emplace("(other)", KeyState{now, 0, 0}).first;
      } else {
        it = keys_.emplace(std::string(k), KeyState{now, 0, 0}).first;
      }
    }
    KeyState& ks = it->second;
    if (now - ks.window_start >= config_.window) {
      const std::uint64_t before = ks.suppressed;
      ks = KeyState{now, 0, 0};
      if (before != 0) line += " [" + std::to_string(before) + " similar suppressed]";
    }
    if (ks.in_window >= config_.burst) {
      ++ks.suppressed;
      ++stats_.suppressed;
      return;
    }
    ++ks.in_window;
    push_locked(std::move(line));
  }
  wake_.notify_one();
}

// Keys whose window ended with lines suppressed say so now (a key that logs
// again says it in its next line instead); idle keys are forgotten.
void Logger::summarise_locked(Clock::time_point now) {
  for (auto it = keys_.begin(); it != keys_.end();) {
    KeyState& ks = it->second;
    if (now - ks.window_start < config_.window) {
      ++it;
      continue;
    }
    if (ks.suppressed != 0) {
      push_locked("log: " + std::to_string(ks.suppressed) + " more '" + it->first +
                  "' line(s) suppressed");
    }
    it = keys_.erase(it);
  }
}

bool Logger::write_line(const std::string& line) {
  std::string out = line + "\n";
  const char* p = out.data();
  std::size_t left = out.size();
  while (left > 0) {
    pollfd pfd{fd_, POLLOUT, 0};
    const int r = ::poll(&pfd, 1, kPollMs);
    if (r < 0 && errno != EINTR) return true;  // the line is lost; go on
    if (r <= 0) {
      std::lock_guard<std::mutex> lk(mu_);
      if (stop_ && Clock::now() >= stop_deadline_) return false;
      continue;
    }
    if ((pfd.revents & (POLLERR | POLLNVAL)) != 0) return true;
    const ssize_t w = ::write(fd_, p, left);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return true;
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  return true;
}

void Logger::run() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    wake_.wait_for(lk, config_.window, [&] {
      return stop_ || kick_ || !queue_.empty() || dropped_pending_ != 0;
    });
    kick_ = false;
    summarise_locked(now_());
    if (queue_.empty() && dropped_pending_ == 0) {
      written_.notify_all();
      if (stop_) return;
      continue;
    }
    std::vector<std::string> batch;
    batch.reserve(queue_.size() + 1);
    if (dropped_pending_ != 0) {
      batch.push_back("log: " + std::to_string(dropped_pending_) +
                      " line(s) dropped (output blocked, queue full)");
      dropped_pending_ = 0;
    }
    for (auto& l : queue_) batch.push_back(std::move(l));
    queue_.clear();
    busy_ = true;
    lk.unlock();
    std::size_t done = 0;
    bool gave_up = false;
    for (const std::string& l : batch) {
      if (!write_line(l)) {
        gave_up = true;
        break;
      }
      ++done;
    }
    lk.lock();
    busy_ = false;
    stats_.written += done;
    if (gave_up) {
      // Stopping and the output stays blocked: the rest is lost.
      stats_.dropped += batch.size() - done + queue_.size();
      queue_.clear();
      written_.notify_all();
      return;
    }
    if (queue_.empty()) written_.notify_all();
  }
}

bool Logger::flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  kick_ = true;
  wake_.notify_one();
  return written_.wait_for(lk, timeout, [&] {
    return !kick_ && queue_.empty() && !busy_ && dropped_pending_ == 0;
  });
}

LoggerStats Logger::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return stats_;
}

Logger& stdout_logger() {
  static Logger logger(STDOUT_FILENO);
  return logger;
}

void line(std::string_view key, std::string text) {
  stdout_logger().log(key, std::move(text));
}

}  // namespace nva::logging
