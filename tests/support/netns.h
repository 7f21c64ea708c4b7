// Test helper: network namespaces and veth pairs with unique names, always
// removed (RAII), and commands run inside a namespace.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nva::test {

struct CommandResult {
  int exit_code = -1;  // -1: could not run; 128+N: killed by signal N
  std::string output;  // stdout and stderr together
};

// Runs argv (no shell) and waits at most `timeout_ms`, then kills it.
CommandResult run_command(const std::vector<std::string>& argv, int timeout_ms = 10000);

// True when this process may create namespaces (root / CAP_SYS_ADMIN and
// `ip` available). Tests skip with the reason when it is false.
bool can_use_netns(std::string* why_not);

// A network namespace named "nvat<run>-<role>-<n>", deleted (with every
// interface in it) by the destructor.
class Netns {
 public:
  explicit Netns(std::string_view role);
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;

  const std::string& name() const { return name_; }
  // Runs argv inside the namespace (`ip netns exec NAME argv...`).
  CommandResult exec(std::vector<std::string> argv, int timeout_ms = 10000) const;
  // Runs `ip -n NAME args...`, throwing std::runtime_error on failure.
  void ip(std::vector<std::string> args) const;

 private:
  std::string name_;
};

// A veth pair whose ends get unique names (at most 15 characters) and are
// moved into the given namespaces, brought up, and optionally addressed
// ("198.18.0.1/24"). Removed by the destructor if it still exists.
class VethPair {
 public:
  VethPair(const Netns& a, const Netns& b);
  ~VethPair();
  VethPair(const VethPair&) = delete;
  VethPair& operator=(const VethPair&) = delete;

  const std::string& a_name() const { return a_name_; }
  const std::string& b_name() const { return b_name_; }
  void address_a(std::string_view cidr) const;
  void address_b(std::string_view cidr) const;

 private:
  const Netns& a_;
  const Netns& b_;
  std::string a_name_;
  std::string b_name_;
};

// Names of namespaces that exist now and start with `prefix`.
std::vector<std::string> list_netns(std::string_view prefix);

// The prefix every namespace and interface of this run starts with.
std::string netns_prefix();
std::string link_prefix();

}  // namespace nva::test
