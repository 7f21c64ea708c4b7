// libFuzzer target for the BGP message decoder (controlplane/bgp).
//
// For every input and every codec option (2- or 4-octet AS, external or
// internal peer) it checks: decoding never crashes (ASan/UBSan watch), an
// error is a NOTIFICATION code RFC 4271/7313 defines, and a decoded message
// re-encodes (unless the re-encoding exceeds 4096 octets, which the AS4_PATH
// regeneration can cause), decodes to the same value, and encodes to the
// same bytes again. The input is tried as is and, so that the fuzzer
// reaches the bodies quickly, with the marker and Length fixed up.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "controlplane/bgp/message.h"

using namespace nva::bgp;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

void check(std::span<const std::uint8_t> in, const CodecOptions& options) {
  (void)decode_header(in);
  auto d = decode_message(in, options);
  if (!d) {
    const auto code = static_cast<std::uint8_t>(d.error().code);
    require(code >= 1 && code <= 7);
    require(!d.error().reason.empty());
    return;
  }
  require(d->update_errors.handling != ErrorHandling::kSessionReset);
  auto e = encode(d->message, options);
  if (!e) {
    require(e.error().reason == "message longer than 4096 octets");
    return;
  }
  require(e->size() <= kMaxMessageLength);
  auto again = decode_message(*e, options);
  require(again.ok());
  require(again->message == d->message);
  auto e2 = encode(again->message, options);
  require(e2.ok() && *e2 == *e);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  std::vector<std::uint8_t> framed;
  if (size >= kHeaderLength && size <= kMaxMessageLength) {
    framed.assign(in.begin(), in.end());
    std::fill(framed.begin(), framed.begin() + 16, 0xFF);
    framed[16] = static_cast<std::uint8_t>(size >> 8);
    framed[17] = static_cast<std::uint8_t>(size);
  }
  for (int o = 0; o < 4; ++o) {
    const CodecOptions options{.four_octet_as = (o & 1) != 0,
                               .external_peer = (o & 2) != 0};
    check(in, options);
    if (!framed.empty()) check(framed, options);
  }
  return 0;
}
