// libFuzzer target for Azure's Scheduled Events document: any bytes get a
// document or a reason, never an exception (parse_events() promises not to
// throw; the poller runs it on the control plane's thread). A document that
// parses is filtered for a VM and its events acknowledged as the daemon
// would; every concerning event must be one that needs a drain and names it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/azure/scheduled_events.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string why;
  const auto doc = nva::azure::parse_events(text, &why);
  if (!doc) {
    if (why.empty()) {
      std::fprintf(stderr, "fuzz-scheduled-events: refused without a reason\n");
      std::abort();
    }
    return 0;
  }
  std::vector<std::string> ids;
  for (const auto& e : nva::azure::concerning(*doc, "nva-a-1")) {
    bool named = false;
    for (const auto& r : e.resources) named = named || r == "nva-a-1";
    if (!named || !nva::azure::needs_drain(e.type)) {
      std::fprintf(stderr, "fuzz-scheduled-events: event %s does not concern the VM\n",
                   e.id.c_str());
      std::abort();
    }
    ids.push_back(e.id);
  }
  (void)nva::azure::start_requests_body(ids);
  return 0;
}
