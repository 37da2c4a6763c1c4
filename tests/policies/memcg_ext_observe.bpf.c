// SPDX-License-Identifier: GPL-2.0
/*
 * memcg_ext_observe: what the VM tests cannot see from cgroup files, seen
 * from the kernel's tracepoints while a policy (any) is attached: which
 * threads ran memcg reclaim themselves.
 */
#include <memcg_ext/common.bpf.h>

char _license[] SEC("license") = "GPL";

/* Memcg reclaim run by each thread (key: tid), background workers too. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u32);
	__type(value, u64);
} memcg_reclaims SEC(".maps");

SEC("tp_btf/mm_vmscan_memcg_reclaim_begin")
int BPF_PROG(observe_memcg_reclaim, int order, gfp_t gfp_flags)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	u64 one = 1, *n = bpf_map_lookup_elem(&memcg_reclaims, &tid);

	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&memcg_reclaims, &tid, &one, BPF_NOEXIST);
	return 0;
}
