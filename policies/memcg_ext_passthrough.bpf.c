// SPDX-License-Identifier: GPL-2.0
/*
 * memcg_ext_passthrough: the smallest memcg_ext policy. It takes every
 * callback and decides exactly what stock memcg would (MEMCG_EXT_DEFAULT),
 * so the kernel behaves as if no policy were attached. It is the baseline
 * for the fast-path benchmark and for running the kernel's cgroup selftests
 * with a policy attached, and the template for new policies.
 *
 * It counts how often each charge event reached it, in per-CPU counters so
 * that counting adds no shared cache line to the charge path.
 */
#include <memcg_ext/common.bpf.h>

char _license[] SEC("license") = "GPL";

MEI_DEFINE(mei);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MEMCG_EXT_NR_EVENTS);
	__type(key, u32);
	__type(value, u64);
} charge_events SEC(".maps");

SEC("struct_ops/passthrough_charge")
s32 BPF_PROG(passthrough_charge, struct mem_cgroup *memcg,
	     struct mem_cgroup *over, struct memcg_ext_charge *charge)
{
	u32 event = charge->event;
	u64 *cnt;

	cnt = bpf_map_lookup_elem(&charge_events, &event);
	if (cnt)
		(*cnt)++;
	return MEMCG_EXT_DEFAULT;
}

SEC("struct_ops.s/passthrough_init")
s32 BPF_PROG(passthrough_init)
{
	return 0;
}

SEC("struct_ops/passthrough_exit")
void BPF_PROG(passthrough_exit, struct memcg_ext_exit_info *ei)
{
	MEI_RECORD(mei, ei);
}

SEC(".struct_ops.link")
struct memcg_ext_ops passthrough_ops = {
	.charge		= (void *)passthrough_charge,
	.init		= (void *)passthrough_init,
	.exit		= (void *)passthrough_exit,
	.name		= "passthrough",
};
