// Network namespaces and veth pairs for tests, through iproute2's `ip`.
#include "tests/support/netns.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <dirent.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "tests/support/run_id.h"

namespace nva::test {

namespace {

std::atomic<unsigned> g_counter{0};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& a : v) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

void check(const std::vector<std::string>& argv) {
  const CommandResult r = run_command(argv);
  if (r.exit_code != 0) {
    throw std::runtime_error("`" + join(argv) + "` failed (" +
                             std::to_string(r.exit_code) + "): " + r.output);
  }
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, int timeout_ms) {
  CommandResult res;
  int fds[2];
  if (argv.empty() || ::pipe2(fds, O_CLOEXEC) != 0) return res;
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return res;
  }
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  ::close(fds[1]);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool killed = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[4096];
    const ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got <= 0) break;  // EOF: the child closed its end
    res.output.append(buf, static_cast<std::size_t>(got));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (killed) {
    res.exit_code = 128 + SIGKILL;
    res.output += "\n[killed after " + std::to_string(timeout_ms) + " ms]";
  } else if (WIFEXITED(status)) {
    res.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    res.exit_code = 128 + WTERMSIG(status);
  }
  return res;
}

bool can_use_netns(std::string* why_not) {
  if (::geteuid() != 0) {
    if (why_not) *why_not = "needs root to create network namespaces";
    return false;
  }
  const CommandResult r = run_command({"ip", "-V"});
  if (r.exit_code != 0) {
    if (why_not) *why_not = "iproute2's `ip` is not installed";
    return false;
  }
  return true;
}

std::string netns_prefix() { return "nvat" + run_id() + "-"; }
std::string link_prefix() { return "nv" + run_id(); }

Netns::Netns(std::string_view role)
    : name_(netns_prefix() + std::string(role) + "-" +
            std::to_string(g_counter.fetch_add(1))) {
  check({"ip", "netns", "add", name_});
  // Loopback up: some tools (and BIRD) expect it.
  ip({"link", "set", "lo", "up"});
}

Netns::~Netns() { (void)run_command({"ip", "netns", "del", name_}); }

CommandResult Netns::exec(std::vector<std::string> argv, int timeout_ms) const {
  argv.insert(argv.begin(), {"ip", "netns", "exec", name_});
  return run_command(argv, timeout_ms);
}

void Netns::ip(std::vector<std::string> args) const {
  args.insert(args.begin(), {"ip", "-n", name_});
  check(args);
}

VethPair::VethPair(const Netns& a, const Netns& b) : a_(a), b_(b) {
  const unsigned n = g_counter.fetch_add(1);
  // IFNAMSIZ is 16: "nv" + up to 8 + "x" + counter stays within 15.
  a_name_ = link_prefix() + "a" + std::to_string(n % 1000);
  b_name_ = link_prefix() + "b" + std::to_string(n % 1000);
  check({"ip", "link", "add", a_name_, "type", "veth", "peer", "name", b_name_});
  try {
    check({"ip", "link", "set", a_name_, "netns", a.name()});
    check({"ip", "link", "set", b_name_, "netns", b.name()});
    a.ip({"link", "set", a_name_, "up"});
    b.ip({"link", "set", b_name_, "up"});
  } catch (...) {
    (void)run_command({"ip", "link", "del", a_name_});
    throw;
  }
}

VethPair::~VethPair() {
  // Deleting one end removes both; the namespace may already be gone.
  (void)run_command({"ip", "-n", a_.name(), "link", "del", a_name_});
  (void)run_command({"ip", "link", "del", a_name_});
}

void VethPair::address_a(std::string_view cidr) const {
  a_.ip({"addr", "add", std::string(cidr), "dev", a_name_});
}

void VethPair::address_b(std::string_view cidr) const {
  b_.ip({"addr", "add", std::string(cidr), "dev", b_name_});
}

std::vector<std::string> list_netns(std::string_view prefix) {
  std::vector<std::string> out;
  DIR* d = ::opendir("/run/netns");
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view n(e->d_name);
    if (n.substr(0, prefix.size()) == prefix) out.emplace_back(n);
  }
  ::closedir(d);
  return out;
}

}  // namespace nva::test
