// SPDX-License-Identifier: GPL-2.0
/*
 * memcg_ext_test: a policy for the VM tests. It misbehaves on purpose in the
 * way the test asks for (rodata set by the test before load) and records
 * what it saw, so that the tests can check the kernel's side: ejection,
 * exit info, replay of online memcgs, decisions.
 */
#include <memcg_ext/common.bpf.h>
#include "memcg_ext_test.h"

char _license[] SEC("license") = "GPL";

const volatile u64 target_cgid;
const volatile u32 mode;
const volatile s32 init_ret;

MEI_DEFINE(mei);

u64 nr_events[MEMCG_EXT_NR_EVENTS];
u64 nr_target_events[MEMCG_EXT_NR_EVENTS];
u64 nr_online, nr_offline;
u64 last_online_cgid, last_offline_cgid;
s64 target_usage, target_max;
u64 charged_cgid;
/* What the reader kfuncs returned at the last target event. */
s64 seen_max_events, seen_anon, seen_pgfault, seen_bad_stat, seen_bad_event;
s64 seen_lookup_usage = -1;
u64 seen_lookup_missing = -1;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u64);
	__type(value, u64);
} online_ids SEC(".maps");

static void read_kfuncs(struct mem_cgroup *over)
{
	struct mem_cgroup *m;

	seen_max_events = memcg_ext_memory_events(over, MEMCG_MAX);
	seen_anon = memcg_ext_stat(over, NR_ANON_MAPPED);
	seen_pgfault = memcg_ext_vm_event(over, PGFAULT);
	/* Out of range or untracked: -EINVAL, and no WARN in the kernel. */
	seen_bad_stat = memcg_ext_stat(over, NR_VM_ZONE_STAT_ITEMS + 100000);
	seen_bad_event = memcg_ext_vm_event(over, NR_VM_EVENT_ITEMS);

	m = memcg_ext_get_memcg(target_cgid);
	if (m) {
		seen_lookup_usage = memcg_ext_read_counter(m, MEMCG_EXT_CNT_USAGE);
		memcg_ext_put_memcg(m);
	}
	m = memcg_ext_get_memcg(1ULL << 40);
	seen_lookup_missing = m != NULL;
	if (m)
		memcg_ext_put_memcg(m);
}

static long spin(u64 i, void *ctx)
{
	return 0;
}

SEC("struct_ops/test_charge")
s32 BPF_PROG(test_charge, struct mem_cgroup *memcg, struct mem_cgroup *over,
	     struct memcg_ext_charge *charge)
{
	u32 event = charge->event;

	if (event >= MEMCG_EXT_NR_EVENTS)
		return MEMCG_EXT_DEFAULT;
	__sync_fetch_and_add(&nr_events[event], 1);

	if (memcg_ext_cgroup_id(over) != target_cgid)
		return MEMCG_EXT_DEFAULT;

	__sync_fetch_and_add(&nr_target_events[event], 1);
	target_usage = memcg_ext_read_counter(over, MEMCG_EXT_CNT_USAGE);
	target_max = memcg_ext_read_counter(over, MEMCG_EXT_CNT_MAX);
	charged_cgid = memcg_ext_cgroup_id(memcg);
	read_kfuncs(over);

	switch (mode) {
	case TEST_MODE_ERROR:
		memcg_ext_error("test error on event %u of cgroup %llu",
				event, target_cgid);
		return MEMCG_EXT_DEFAULT;
	case TEST_MODE_BAD_DECISION:
		return TEST_BAD_DECISION;
	case TEST_MODE_DEFER:
		if (event == MEMCG_EXT_EV_HIGH || event == MEMCG_EXT_EV_SWAP_HIGH)
			return MEMCG_EXT_DEFER;
		return MEMCG_EXT_DEFAULT;
	case TEST_MODE_EXIT:
		memcg_ext_exit(TEST_EXIT_CODE, "test exit on event %u", event);
		return MEMCG_EXT_DEFAULT;
	case TEST_MODE_ALLOW:
		/* Adversarial: let everything through, never reclaim. */
		return MEMCG_EXT_ALLOW;
	case TEST_MODE_SLOW:
		/* Bounded, so the verifier takes it, but long. */
		bpf_loop(1 << 23, spin, NULL, 0);
		return MEMCG_EXT_DEFAULT;
	default:
		return MEMCG_EXT_DEFAULT;
	}
}

SEC("struct_ops/test_cgroup_online")
void BPF_PROG(test_cgroup_online, struct mem_cgroup *memcg)
{
	u64 cgid = memcg_ext_cgroup_id(memcg), one = 1;

	__sync_fetch_and_add(&nr_online, 1);
	last_online_cgid = cgid;
	bpf_map_update_elem(&online_ids, &cgid, &one, BPF_ANY);
}

SEC("struct_ops/test_cgroup_offline")
void BPF_PROG(test_cgroup_offline, struct mem_cgroup *memcg)
{
	u64 cgid = memcg_ext_cgroup_id(memcg);

	__sync_fetch_and_add(&nr_offline, 1);
	last_offline_cgid = cgid;
	bpf_map_delete_elem(&online_ids, &cgid);
}

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} wm_events SEC(".maps");

u64 nr_wm_events;

SEC("struct_ops/test_watermark")
void BPF_PROG(test_watermark, struct mem_cgroup *memcg, u32 index, u32 rising,
	      u64 usage)
{
	struct test_wm_event *e;

	__sync_fetch_and_add(&nr_wm_events, 1);
	e = bpf_ringbuf_reserve(&wm_events, sizeof(*e), 0);
	if (!e)
		return;
	e->cgid = memcg_ext_cgroup_id(memcg);
	e->usage = usage;
	e->ktime_ns = bpf_ktime_get_ns();
	e->index = index;
	e->rising = rising;
	bpf_ringbuf_submit(e, 0);
}

/* The kfuncs that user space drives, one syscall program each. */
SEC("syscall")
int test_bg_reclaim(struct test_bg_args *a)
{
	struct mem_cgroup *m = memcg_ext_get_memcg(a->cgid);

	if (!m) {
		a->ret = -ENOENT;
		return 0;
	}
	a->ret = memcg_ext_bg_reclaim(m, a->bytes, a->passes, a->flags);
	memcg_ext_put_memcg(m);
	return 0;
}

SEC("syscall")
int test_bg_target(struct test_target_args *a)
{
	struct mem_cgroup *m = memcg_ext_get_memcg(a->cgid);

	if (!m) {
		a->ret = -ENOENT;
		return 0;
	}
	if (a->add)
		a->ret = memcg_ext_bg_add_target(m, a->tgid);
	else
		a->ret = memcg_ext_bg_del_target(m, a->tgid);
	memcg_ext_put_memcg(m);
	return 0;
}

SEC("syscall")
int test_set_watermark(struct test_wm_args *a)
{
	struct mem_cgroup *m = memcg_ext_get_memcg(a->cgid);

	if (!m) {
		a->ret = -ENOENT;
		return 0;
	}
	a->ret = memcg_ext_set_watermark(m, a->index, a->level, a->hysteresis);
	memcg_ext_put_memcg(m);
	return 0;
}

SEC("struct_ops.s/test_init")
s32 BPF_PROG(test_init)
{
	return init_ret;
}

SEC("struct_ops/test_exit")
void BPF_PROG(test_exit, struct memcg_ext_exit_info *ei)
{
	MEI_RECORD(mei, ei);
}

SEC(".struct_ops.link")
struct memcg_ext_ops test_ops = {
	.charge		= (void *)test_charge,
	.cgroup_online	= (void *)test_cgroup_online,
	.cgroup_offline	= (void *)test_cgroup_offline,
	.watermark	= (void *)test_watermark,
	.init		= (void *)test_init,
	.exit		= (void *)test_exit,
	.name		= "test",
};
