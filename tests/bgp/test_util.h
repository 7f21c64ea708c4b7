// Test helpers for the BGP codec: hex strings, message framing, fixtures.
#pragma once

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/bgp/message.h"

namespace nva::bgp::test {

using Bytes = std::vector<std::uint8_t>;

// "ffff 0013 04" -> bytes; spaces, newlines and '#' comments are ignored.
inline Bytes hex(std::string_view s) {
  Bytes out;
  int nibble = -1;
  bool comment = false;
  for (char c : s) {
    if (comment) {
      comment = c != '\n';
      continue;
    }
    int v = -1;
    if (c == '#') comment = true;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) continue;
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(nibble << 4 | v));
      nibble = -1;
    }
  }
  return out;
}

inline std::string to_hex(const Bytes& b) {
  std::string s;
  char buf[3];
  for (auto x : b) {
    std::snprintf(buf, sizeof(buf), "%02x", x);
    s += buf;
  }
  return s;
}

// A whole message: marker, length, type, then `body`.
inline Bytes message(std::uint8_t type, const Bytes& body) {
  Bytes m(16, 0xFF);
  const std::size_t len = 19 + body.size();
  m.push_back(static_cast<std::uint8_t>(len >> 8));
  m.push_back(static_cast<std::uint8_t>(len));
  m.push_back(type);
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

// An UPDATE from its three fields (lengths filled in).
inline Bytes update(const Bytes& withdrawn, const Bytes& attrs, const Bytes& nlri) {
  Bytes body;
  body.push_back(static_cast<std::uint8_t>(withdrawn.size() >> 8));
  body.push_back(static_cast<std::uint8_t>(withdrawn.size()));
  body.insert(body.end(), withdrawn.begin(), withdrawn.end());
  body.push_back(static_cast<std::uint8_t>(attrs.size() >> 8));
  body.push_back(static_cast<std::uint8_t>(attrs.size()));
  body.insert(body.end(), attrs.begin(), attrs.end());
  body.insert(body.end(), nlri.begin(), nlri.end());
  return message(2, body);
}

inline Ipv4Prefix p4(std::string_view s) { return *Ipv4Prefix::parse(s); }
inline Ipv6Prefix p6(std::string_view s) { return *Ipv6Prefix::parse(s); }
inline Ipv4Address a4(std::string_view s) { return *parse_ipv4(s); }

// tests/data/bgp/NAME as bytes (the directory comes from meson).
inline Bytes fixture(const std::string& name) {
  std::ifstream in(std::string(NVA_BGP_FIXTURE_DIR) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return hex(ss.str());
}

}  // namespace nva::bgp::test
