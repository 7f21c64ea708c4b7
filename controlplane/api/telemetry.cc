// The /nva/ telemetry commands: a process-wide registry and the latest snapshots.
#include "controlplane/api/telemetry.h"

#include <rte_telemetry.h>

#include <cerrno>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <utility>

namespace nva::api {

using json = nlohmann::json;
using Handler = std::function<json(const std::string&)>;

const std::vector<TelCommand>& builtin_commands() {
  // Help texts must stay under kTelMaxHelpLen (DPDK rejects longer ones).
  static const std::vector<TelCommand> commands = {
      {"/nva/info", "anycast-nva version, uptime and state. No parameters"},
      {"/nva/workers",
       "Per-worker counters: rx, tx, drops, handoff, heartbeat. No parameters"},
      {"/nva/services",
       "Anycast services: VIP, port, protocol, SNAT, backends. No parameters"},
      {"/nva/backends",
       "Backends and their health. Parameter: optional service name (/nva/backends,web)"},
      {"/nva/bgp/peers",
       "BGP sessions to the Route Servers: state, uptime, prefixes. No parameters"},
      {"/nva/bgp/routes",
       "Routes advertised to and received from each BGP peer. No parameters"},
      {"/nva/health",
       "Advertisement decision per VIP and the reasons for it. No parameters"},
      {"/nva/drain",
       "Action: drain for maintenance (withdraw the VIPs). Parameter: see nvactl drain"},
  };
  return commands;
}

namespace {

// Snapshot commands that take a parameter filter on this field of each entry.
const std::map<std::string, std::string>& filter_fields() {
  static const std::map<std::string, std::string> fields = {{"/nva/backends", "service"}};
  return fields;
}

json error(const std::string& what) { return json{{"error", what}}; }

bool valid_path(const std::string& path) {
  if (path.empty() || path[0] != '/' || path.size() > kTelMaxCmdLen) return false;
  for (char c : path) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '/';
    if (!ok) return false;
  }
  return true;
}

// Keeps the entries of an array or dict whose `field` equals `value`.
json filter_by(const json& snapshot, const std::string& field, const std::string& value) {
  auto matches = [&](const json& e) {
    if (!e.is_object()) return false;
    const auto it = e.find(field);
    if (it == e.end()) return false;
    return it->is_string() ? it->get_ref<const std::string&>() == value
                           : it->dump() == value;
  };
  if (snapshot.is_array()) {
    json out = json::array();
    for (const auto& e : snapshot) {
      if (matches(e)) out.push_back(e);
    }
    return out;
  }
  if (snapshot.is_object()) {
    json out = json::object();
    for (auto it = snapshot.begin(); it != snapshot.end(); ++it) {
      if (matches(*it)) out[it.key()] = *it;
    }
    return out;
  }
  return json::object();
}

}  // namespace

struct Telemetry::State {
  mutable std::mutex mu;
  std::condition_variable idle;
  std::map<std::string, std::shared_ptr<const json>> snapshots;
  std::map<std::string, std::shared_ptr<const Handler>> handlers;
  int handlers_running = 0;
  bool closed = false;

  json answer(const std::string& path, const std::string& params) {
    std::shared_ptr<const Handler> handler;
    std::shared_ptr<const json> snapshot;
    {
      std::lock_guard lock(mu);
      if (closed) return error("anycast-nva telemetry is shut down");
      if (auto h = handlers.find(path); h != handlers.end()) {
        handler = h->second;
        ++handlers_running;
      } else if (auto s = snapshots.find(path); s != snapshots.end()) {
        snapshot = s->second;
      }
    }
    if (handler) {
      // Drops this thread's copy of the handler before ~Telemetry may return.
      struct Done {
        State* s;
        std::shared_ptr<const Handler>& h;
        ~Done() {
          h.reset();
          std::lock_guard lock(s->mu);
          if (--s->handlers_running == 0) s->idle.notify_all();
        }
      } done{this, handler};
      try {
        return (*handler)(params);
      } catch (const std::exception& e) {
        return error(e.what());
      } catch (...) {
        return error(path + ": the handler failed");
      }
    }
    const auto filter = filter_fields().find(path);
    if (!params.empty() && filter == filter_fields().end()) {
      return error(path + " takes no parameters");
    }
    if (!snapshot) return json::object();  // never published
    if (!params.empty()) return filter_by(*snapshot, filter->second, params);
    return *snapshot;
  }
};

namespace {

// Process-wide: DPDK cannot unregister a command, and registering one twice
// lists it twice, so each path is registered once and answered by the most
// recent live Telemetry. Never destroyed: the telemetry thread may still call
// in while static destructors run at exit.
struct Registry {
  std::mutex mu;
  std::set<std::string> registered;
  std::vector<std::shared_ptr<Telemetry::State>> live;  // the latest last
};

Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}

json answer_current(const std::string& path, const std::string& params) {
  std::shared_ptr<Telemetry::State> state;
  {
    std::lock_guard lock(registry().mu);
    if (!registry().live.empty()) state = registry().live.back();
  }
  if (!state) return error("anycast-nva telemetry is shut down");
  return state->answer(path, params);
}

// The one telemetry callback; runs on DPDK's telemetry client threads.
int dispatch(const char* cmd, const char* params, rte_tel_data* d) {
  try {
    std::string p = params ? params : "";
    const json a = answer_current(cmd ? cmd : "", p);
    const int rc = to_tel_data(a, d);
    return rc < 0 ? rc : 0;
  } catch (const std::exception&) {
    rte_tel_data_start_dict(d);
    return -ENOMEM;
  }
}

void register_path(const std::string& path, const std::string& help) {
  if (!valid_path(path)) {
    throw std::invalid_argument("telemetry command '" + path +
                                "': must start with '/' and hold at most 55 bytes of "
                                "[A-Za-z0-9_/]");
  }
  std::lock_guard lock(registry().mu);
  if (registry().registered.count(path)) return;
  const std::string h = help.substr(0, kTelMaxHelpLen);
  const int rc = rte_telemetry_register_cmd(path.c_str(), dispatch, h.c_str());
  if (rc != 0) {
    throw std::runtime_error("rte_telemetry_register_cmd(" + path +
                             ") failed: " + std::to_string(rc));
  }
  registry().registered.insert(path);
}

}  // namespace

Telemetry::Telemetry() : state_(std::make_shared<State>()) {
  for (const auto& c : builtin_commands()) register_path(c.path, c.help);
  std::lock_guard lock(registry().mu);
  registry().live.push_back(state_);
}

Telemetry::~Telemetry() {
  {
    std::lock_guard lock(registry().mu);
    auto& live = registry().live;
    for (auto it = live.begin(); it != live.end(); ++it) {
      if (*it == state_) {
        live.erase(it);
        break;
      }
    }
  }
  std::unique_lock lock(state_->mu);
  state_->closed = true;
  state_->idle.wait(lock, [this] { return state_->handlers_running == 0; });
  state_->handlers.clear();
  state_->snapshots.clear();
}

void Telemetry::publish(const std::string& path, nlohmann::json value) {
  register_path(path, "anycast-nva snapshot " + path + ". No parameters");
  auto snapshot = std::make_shared<const json>(std::move(value));
  std::lock_guard lock(state_->mu);
  state_->snapshots[path] = std::move(snapshot);
}

void Telemetry::on_command(
    const std::string& path,
    std::function<nlohmann::json(const std::string& params)> handler,
    const std::string& help) {
  register_path(path, help);
  auto h = std::make_shared<const Handler>(std::move(handler));
  std::lock_guard lock(state_->mu);
  state_->handlers[path] = std::move(h);
}

nlohmann::json Telemetry::answer(const std::string& path,
                                 const std::string& params) const {
  return state_->answer(path, params);
}

}  // namespace nva::api
