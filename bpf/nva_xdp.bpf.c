// XDP program of anycast-nva: for now counts packets and bytes, passes all.
//
// This is the minimal program the build, skeleton and verifier tests stand
// on. The real classifier (redirect VIP, SNAT-return and backend-return
// traffic to AF_XDP sockets, pass the rest to the kernel) replaces its body
// in the shared-NIC issue; the map layout below is kept for its counters.
#include <linux/bpf.h>
// bpf_helpers.h needs the types above: keep it in its own block.
#include <bpf/bpf_helpers.h>

// Index of the counter slots in nva_xdp_stats.
enum nva_xdp_stat {
  NVA_XDP_STAT_PASS = 0,
  NVA_XDP_STAT_MAX,
};

struct nva_xdp_counter {
  __u64 packets;
  __u64 bytes;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NVA_XDP_STAT_MAX);
  __type(key, __u32);
  __type(value, struct nva_xdp_counter);
} nva_xdp_stats SEC(".maps");

SEC("xdp")
int nva_xdp_main(struct xdp_md* ctx) {
  const void* data = (const void*)(long)ctx->data;
  const void* data_end = (const void*)(long)ctx->data_end;
  __u32 key = NVA_XDP_STAT_PASS;
  struct nva_xdp_counter* c = bpf_map_lookup_elem(&nva_xdp_stats, &key);
  if (c) {
    c->packets += 1;
    c->bytes += (__u64)(data_end - data);
  }
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
