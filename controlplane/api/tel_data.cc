// json -> rte_tel_data within DPDK 22.11's limits: shape first, then emit.
#include <rte_telemetry.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "controlplane/api/telemetry.h"

namespace nva::api {

namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// A string inside a dict or array holds RTE_TEL_MAX_STRING_LEN - 1 bytes, a
// top-level string RTE_TEL_MAX_SINGLE_STRING_LEN - 1.
constexpr std::size_t kMaxInnerString = RTE_TEL_MAX_STRING_LEN - 1;
constexpr std::size_t kMaxTopString = RTE_TEL_MAX_SINGLE_STRING_LEN - 1;
constexpr std::size_t kMaxKey = RTE_TEL_MAX_STRING_LEN - 1;
// DPDK wraps the value as {"<command>":<value>}: 5 bytes plus the command.
constexpr std::size_t kEnvelope = kTelMaxCmdLen + 5 + 3;  // + NUL and slack
// ,"truncated":1
constexpr std::size_t kDictMarkerBytes = 15;
// ,"...[truncated: 4294967295 of 4294967295]"
constexpr std::size_t kArrayMarkerBytes = 48;

std::string dump(const ojson& j) {
  return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

// Valid UTF-8 (invalid bytes become U+FFFD) without the control characters
// DPDK 22.11 drops when it writes JSON (it escapes only \n, \r and \t).
std::string clean(const std::string& s) {
  std::string utf8 =
      json(s).dump(-1, ' ', false, json::error_handler_t::replace);  // quoted, escaped
  std::string out = json::parse(utf8).get<std::string>();
  std::string kept;
  kept.reserve(out.size());
  for (char c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\n' && c != '\r' && c != '\t') continue;
    kept.push_back(c);
  }
  return kept;
}

// Cuts `s` to at most `max` bytes, ending in the marker, at a UTF-8 boundary.
std::string cut(std::string s, std::size_t max, bool& truncated) {
  if (s.size() <= max) return s;
  truncated = true;
  const std::size_t marker = std::strlen(kTelStringMarker);
  std::size_t keep = max - marker;
  while (keep > 0 && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80) --keep;
  s.resize(keep);
  s += kTelStringMarker;
  return s;
}

// Dict names may hold only [A-Za-z0-9_/] (rte_tel_data_add_dict_* rejects the
// rest with -EINVAL).
std::string clean_key(const std::string& k) {
  std::string out;
  for (char c : k.substr(0, kMaxKey)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '/';
    out.push_back(ok ? c : '_');
  }
  return out.empty() ? "_" : out;
}

class Shaper {
 public:
  bool truncated = false;

  ojson top(const json& j, std::size_t budget) {
    if (j.is_object()) return object(entries_of(j), 0, budget);
    if (j.is_array()) return array(j, 0, budget);
    ojson s = scalar(j, kMaxTopString);
    return s.is_string() ? s : ojson(dump(s));  // DPDK serves only a top string
  }

 private:
  using Entries = std::vector<std::pair<std::string, const json*>>;

  static Entries entries_of(const json& j) {
    Entries e;
    for (auto it = j.begin(); it != j.end(); ++it) e.emplace_back(it.key(), &*it);
    return e;
  }

  ojson scalar(const json& j, std::size_t max_str) {
    switch (j.type()) {
      case json::value_t::boolean:
        return ojson(static_cast<std::uint64_t>(j.get<bool>() ? 1 : 0));
      case json::value_t::number_unsigned:
        return ojson(j.get<std::uint64_t>());
      case json::value_t::number_integer: {
        const auto v = j.get<std::int64_t>();
        if (v >= 0) return ojson(static_cast<std::uint64_t>(v));
        if (v >= std::numeric_limits<int>::min()) return ojson(v);
        return ojson(std::to_string(v));
      }
      case json::value_t::string:
        return ojson(cut(clean(j.get<std::string>()), max_str, truncated));
      case json::value_t::null:
        return ojson("null");
      default:  // float, binary, and containers deeper than DPDK nests
        return ojson(cut(clean(j.dump(-1, ' ', false, json::error_handler_t::replace)),
                         max_str, truncated));
    }
  }

  ojson object(const Entries& entries, int depth, std::size_t budget) {
    ojson out = ojson::object();
    std::size_t used = 2;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const bool last = i + 1 == entries.size();
      if (out.size() + 1 >= RTE_TEL_MAX_DICT_ENTRIES && !last) return mark(out);
      std::string key = clean_key(entries[i].first);
      for (int n = 2; out.contains(key); ++n) {
        key =
            clean_key(entries[i].first).substr(0, kMaxKey - 6) + "_" + std::to_string(n);
      }
      const json& v = *entries[i].second;
      const std::size_t fixed = key.size() + 3 + (out.empty() ? 0 : 1);
      ojson value;
      if (depth == 0 && v.is_structured()) {
        if (used + fixed + 2 + kDictMarkerBytes > budget) return mark(out);
        const std::size_t room = budget - used - fixed - kDictMarkerBytes;
        value = v.is_object() ? object(entries_of(v), 1, room) : array(v, 1, room);
      } else {
        value = scalar(v, kMaxInnerString);
      }
      const std::size_t len = fixed + dump(value).size();
      if (used + len + (last ? 0 : kDictMarkerBytes) > budget) return mark(out);
      used += len;
      out[key] = std::move(value);
    }
    return out;
  }

  ojson mark(ojson& out) {
    truncated = true;
    out[kTelTruncatedKey] = std::uint64_t{1};
    return std::move(out);
  }

  ojson array(const json& arr, int depth, std::size_t budget) {
    if (depth == 0) {
      // DPDK arrays hold only scalars or scalar arrays: serve an array that
      // holds containers as a dict keyed by index.
      bool structured = false;
      for (const auto& e : arr) structured = structured || e.is_structured();
      if (structured) {
        Entries e;
        for (std::size_t i = 0; i < arr.size(); ++i)
          e.emplace_back(std::to_string(i), &arr[i]);
        return object(e, 0, budget);
      }
    }
    std::vector<ojson> items;
    items.reserve(arr.size());
    for (const auto& e : arr) items.push_back(scalar(e, kMaxInnerString));
    normalise(items);
    if (const auto n = fits(items, budget, 0); n == items.size()) return ojson(items);
    // Shortened: strings only, so the last element can say what happened.
    truncated = true;
    for (auto& e : items) {
      if (!e.is_string()) e = dump(e);
    }
    const std::size_t n =
        fits(items, budget > kArrayMarkerBytes ? budget - kArrayMarkerBytes : 0, 1);
    ojson out = ojson::array();
    for (std::size_t i = 0; i < n; ++i) out.push_back(std::move(items[i]));
    out.push_back("...[truncated: " + std::to_string(n) + " of " +
                  std::to_string(arr.size()) + "]");
    return out;
  }

  // How many leading items fit in `budget` bytes and the entry limit (less
  // `reserve` entries).
  static std::size_t fits(const std::vector<ojson>& items, std::size_t budget,
                          std::size_t reserve) {
    std::size_t used = 2;
    const std::size_t max = RTE_TEL_MAX_ARRAY_ENTRIES - reserve;
    for (std::size_t i = 0; i < items.size(); ++i) {
      used += dump(items[i]).size() + (i ? 1 : 0);
      if (used > budget || i >= max) return i;
    }
    return items.size();
  }

  // One element type per DPDK array: u64 if all are unsigned, int if all are
  // integers that fit, else strings.
  static void normalise(std::vector<ojson>& items) {
    bool all_unsigned = true, all_int = true;
    for (const auto& e : items) {
      all_unsigned = all_unsigned && e.is_number_unsigned();
      if (e.is_number_unsigned()) {
        all_int =
            all_int && e.get<std::uint64_t>() <=
                           static_cast<std::uint64_t>(std::numeric_limits<int>::max());
      } else {
        all_int = all_int && e.is_number_integer();
      }
    }
    if (all_unsigned) return;
    for (auto& e : items) {
      if (all_int) {
        e = ojson(e.get<std::int64_t>());
      } else if (!e.is_string()) {
        e = dump(e);
      }
    }
  }
};

enum class ArrayKind { kU64, kInt, kString };

ArrayKind kind_of(const ojson& a) {
  bool all_unsigned = true, all_int = true;
  for (const auto& e : a) {
    all_unsigned = all_unsigned && e.is_number_unsigned();
    all_int = all_int && e.is_number_integer();
  }
  if (a.empty()) return ArrayKind::kString;
  if (all_unsigned) return ArrayKind::kU64;
  return all_int ? ArrayKind::kInt : ArrayKind::kString;
}

void emit_scalar_array(const ojson& a, rte_tel_data* d) {
  switch (kind_of(a)) {
    case ArrayKind::kU64:
      rte_tel_data_start_array(d, RTE_TEL_U64_VAL);
      for (const auto& e : a) rte_tel_data_add_array_u64(d, e.get<std::uint64_t>());
      break;
    case ArrayKind::kInt:
      rte_tel_data_start_array(d, RTE_TEL_INT_VAL);
      for (const auto& e : a) rte_tel_data_add_array_int(d, e.get<int>());
      break;
    case ArrayKind::kString:
      rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
      for (const auto& e : a) {
        rte_tel_data_add_array_string(d, e.get_ref<const std::string&>().c_str());
      }
      break;
  }
}

void emit_dict_scalar(rte_tel_data* d, const char* key, const ojson& v) {
  if (v.is_number_unsigned()) {
    rte_tel_data_add_dict_u64(d, key, v.get<std::uint64_t>());
  } else if (v.is_number_integer()) {
    rte_tel_data_add_dict_int(d, key, v.get<int>());
  } else {
    rte_tel_data_add_dict_string(d, key, v.get_ref<const std::string&>().c_str());
  }
}

// Emits a shaped dict whose nested values (depth 1) take containers from
// `pool`, which holds exactly one per nested value.
void emit_dict(const ojson& o, rte_tel_data* d, std::vector<rte_tel_data*>& pool) {
  rte_tel_data_start_dict(d);
  std::size_t next = 0;
  for (auto it = o.begin(); it != o.end(); ++it) {
    const char* key = it.key().c_str();
    if (!it->is_structured()) {
      emit_dict_scalar(d, key, *it);
      continue;
    }
    rte_tel_data* child = pool[next];
    pool[next++] = nullptr;
    if (it->is_object()) {
      rte_tel_data_start_dict(child);
      for (auto c = it->begin(); c != it->end(); ++c)
        emit_dict_scalar(child, c.key().c_str(), *c);
    } else {
      emit_scalar_array(*it, child);
    }
    if (rte_tel_data_add_dict_container(d, key, child, 0) < 0) rte_tel_data_free(child);
  }
}

}  // namespace

nlohmann::json tel_shape(const nlohmann::json& j, std::size_t max_bytes,
                         bool* truncated) {
  Shaper s;
  const std::size_t budget = max_bytes > kEnvelope + 2 ? max_bytes - kEnvelope : 2;
  ojson shaped = s.top(j, budget);
  if (truncated) *truncated = s.truncated;
  return json::parse(dump(shaped));
}

int to_tel_data(const nlohmann::json& j, rte_tel_data* d, std::size_t max_bytes) {
  if (d == nullptr) return -EINVAL;
  std::vector<rte_tel_data*> pool;
  try {
    Shaper s;
    const std::size_t budget = max_bytes > kEnvelope + 2 ? max_bytes - kEnvelope : 2;
    const ojson shaped = s.top(j, budget);
    if (shaped.is_string()) {
      rte_tel_data_string(d, shaped.get_ref<const std::string&>().c_str());
      return s.truncated ? kTelTruncated : 0;
    }
    if (shaped.is_array()) {  // top arrays hold scalars only (see Shaper::array)
      emit_scalar_array(shaped, d);
      return s.truncated ? kTelTruncated : 0;
    }
    // Allocate every nested container first, so running out of memory leaves
    // nothing half attached.
    for (const auto& v : shaped) {
      if (!v.is_structured()) continue;
      rte_tel_data* c = rte_tel_data_alloc();
      if (c == nullptr) throw std::bad_alloc();
      pool.push_back(c);
    }
    emit_dict(shaped, d, pool);
    return s.truncated ? kTelTruncated : 0;
  } catch (const std::exception&) {
    for (rte_tel_data* c : pool) rte_tel_data_free(c);
    rte_tel_data_start_dict(d);
    return -ENOMEM;
  }
}

}  // namespace nva::api
