// SPDX-License-Identifier: GPL-2.0
/*
 * memcg_ext_watch: a policy that watches. For every memcg whose limit a
 * charge runs into, it counts the slow-path events (memory.high crossed,
 * memory.swap.high crossed, memory.max charge failure) and records the
 * usage and limits it saw at the last one; the loader shows them live.
 * It decides what stock memcg would, so watching changes no behaviour.
 *
 * Entries are created when a memcg comes online (every online memcg is
 * replayed at attach) and marked offline when it goes; the loader deletes
 * offline entries once it has shown them.
 */
#include <memcg_ext/common.bpf.h>
#include "memcg_ext_watch.h"

char _license[] SEC("license") = "GPL";

MEI_DEFINE(mei);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u64);
	__type(value, struct watch_memcg);
} memcgs SEC(".maps");

/* Charges for memcgs the map had no room for. */
u64 nr_dropped;

static struct watch_memcg *watch_lookup(u64 cgid)
{
	struct watch_memcg zero = {}, *w;

	w = bpf_map_lookup_elem(&memcgs, &cgid);
	if (w)
		return w;
	bpf_map_update_elem(&memcgs, &cgid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&memcgs, &cgid);
}

SEC("struct_ops/watch_charge")
s32 BPF_PROG(watch_charge, struct mem_cgroup *memcg, struct mem_cgroup *over,
	     struct memcg_ext_charge *charge)
{
	u32 event = charge->event;
	struct watch_memcg *w;

	if (event >= WATCH_NR_EVENTS)
		return MEMCG_EXT_DEFAULT;

	w = watch_lookup(memcg_ext_cgroup_id(over));
	if (!w) {
		__sync_fetch_and_add(&nr_dropped, 1);
		return MEMCG_EXT_DEFAULT;
	}

	__sync_fetch_and_add(&w->events[event], 1);
	__sync_fetch_and_add(&w->pages[event], charge->nr_pages);
	w->usage = memcg_ext_read_counter(over, MEMCG_EXT_CNT_USAGE);
	w->high = memcg_ext_read_counter(over, MEMCG_EXT_CNT_HIGH);
	w->max = memcg_ext_read_counter(over, MEMCG_EXT_CNT_MAX);
	w->last_ns = bpf_ktime_get_ns();
	w->online = 1;
	w->decision = MEMCG_EXT_DEFAULT;
	return MEMCG_EXT_DEFAULT;
}

SEC("struct_ops/watch_cgroup_online")
void BPF_PROG(watch_cgroup_online, struct mem_cgroup *memcg)
{
	struct watch_memcg *w = watch_lookup(memcg_ext_cgroup_id(memcg));

	if (w)
		w->online = 1;
}

SEC("struct_ops/watch_cgroup_offline")
void BPF_PROG(watch_cgroup_offline, struct mem_cgroup *memcg)
{
	u64 cgid = memcg_ext_cgroup_id(memcg);
	struct watch_memcg *w = bpf_map_lookup_elem(&memcgs, &cgid);

	if (w)
		w->online = 0;
}

SEC("struct_ops/watch_exit")
void BPF_PROG(watch_exit, struct memcg_ext_exit_info *ei)
{
	MEI_RECORD(mei, ei);
}

SEC(".struct_ops.link")
struct memcg_ext_ops watch_ops = {
	.charge		= (void *)watch_charge,
	.cgroup_online	= (void *)watch_cgroup_online,
	.cgroup_offline	= (void *)watch_cgroup_offline,
	.exit		= (void *)watch_exit,
	.name		= "watch",
};
