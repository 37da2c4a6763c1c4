// SPDX-License-Identifier: GPL-2.0
/*
 * memcg_ext_bgreclaim: kswapd per memcg.
 *
 * For every memcg with a limit (the lower of memory.high and memory.max),
 * a high watermark sits a few percent below the limit and a low watermark
 * below that. When usage reaches the high watermark, background reclaim
 * starts and takes usage down to the low watermark, so that the memcg's
 * tasks keep allocating without reclaiming themselves. The amount asked
 * for grows with the charge rate (measured between watermark crossings:
 * the time usage took to climb from the low to the high watermark), and
 * so does the number of parallel passes, so that reclaim keeps ahead of
 * faster allocators.
 *
 * The loader tells the policy which memcgs to manage (bgr_configure, run
 * again whenever limits may have changed) and may name processes whose
 * memory goes first (bgr_target). Every crossing is sent to user space
 * through a ring buffer.
 */
#include <memcg_ext/common.bpf.h>
#include "memcg_ext_bgreclaim.h"

char _license[] SEC("license") = "GPL";

/* Tunables, set by the loader before load. */
const volatile u32 high_gap_pct = 6;	/* high watermark: limit - 6% */
const volatile u32 low_gap_pct = 8;	/* low watermark: high - 8% of limit */
const volatile u64 min_gap = 2 << 20;	/* neither gap is below this */
const volatile u32 max_passes = 2;
const volatile u32 lookahead_ms = 100;	/* extra reclaim: rate * lookahead */
const volatile u64 pass_rate = 128 << 20; /* bytes/s one pass is good for */
const volatile u32 bg_flags;		/* BGR_NOSWAP */

MEI_DEFINE(mei);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u64);
	__type(value, struct bgr_memcg);
	/* Entries are created by the loader, never in the charge path. */
} bgr_memcgs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} bgr_events SEC(".maps");

static void send_event(u64 cgid, u32 kind, u64 usage, u64 amount, u64 rate,
		       u32 passes, int err)
{
	struct bgr_event *e = bpf_ringbuf_reserve(&bgr_events, sizeof(*e), 0);

	if (!e)
		return;
	e->cgid = cgid;
	e->ktime_ns = bpf_ktime_get_ns();
	e->kind = kind;
	e->usage = usage;
	e->amount = amount;
	e->rate = rate;
	e->passes = passes;
	e->err = err;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
}

static u64 max_u64(u64 a, u64 b)
{
	return a > b ? a : b;
}

static u64 min_u64(u64 a, u64 b)
{
	return a < b ? a : b;
}

/* Start background reclaim of @m down to its low watermark, and then some. */
static void kick(struct mem_cgroup *memcg, u64 cgid, struct bgr_memcg *m,
		 u64 usage, u32 kind)
{
	u64 amount, extra;
	u32 passes;
	int err;

	if (usage <= m->low_wm)
		return;
	/* What will be charged while reclaim runs, within one gap. */
	extra = min_u64(m->rate * lookahead_ms / 1000, m->high_wm - m->low_wm);
	amount = min_u64(usage - m->low_wm + extra, usage);
	passes = 1 + m->rate / (pass_rate ?: 1);
	if (passes > max_passes)
		passes = max_passes;

	err = memcg_ext_bg_reclaim(memcg, amount, passes, bg_flags);
	m->kicks++;
	if (err)
		m->kick_errors++;
	m->last_err = err;
	m->last_amount = amount;
	m->last_passes = passes;
	send_event(cgid, kind, usage, amount, m->rate, passes, err);
}

SEC("struct_ops/bgr_watermark")
void BPF_PROG(bgr_watermark, struct mem_cgroup *memcg, u32 index, u32 rising,
	      u64 usage)
{
	u64 cgid = memcg_ext_cgroup_id(memcg), now = bpf_ktime_get_ns();
	struct bgr_memcg *m = bpf_map_lookup_elem(&bgr_memcgs, &cgid);

	if (!m || index != 0)
		return;

	if (!rising) {
		m->falls++;
		m->last_fall_ns = now;
		send_event(cgid, BGR_EV_FALL, usage, 0, m->rate, 0, 0);
		return;
	}

	m->rises++;
	/* Usage climbed a whole gap since it last fell: that is the rate. */
	if (m->last_fall_ns && now > m->last_fall_ns) {
		u64 r = (m->high_wm - m->low_wm) * 1000000000ULL /
			(now - m->last_fall_ns);

		m->rate = m->rate ? (3 * m->rate + r) / 4 : r;
	}
	kick(memcg, cgid, m, usage, BGR_EV_RISE);
}

/*
 * A charge ran into the limit all the same (the allocator outran
 * background reclaim): reclaim stock-style this time, and make sure
 * background reclaim is running.
 */
SEC("struct_ops/bgr_charge")
s32 BPF_PROG(bgr_charge, struct mem_cgroup *memcg, struct mem_cgroup *over,
	     struct memcg_ext_charge *charge)
{
	u64 cgid = memcg_ext_cgroup_id(over);
	struct bgr_memcg *m = bpf_map_lookup_elem(&bgr_memcgs, &cgid);

	if (m) {
		m->limit_events++;
		kick(over, cgid, m, memcg_ext_read_counter(over, MEMCG_EXT_CNT_USAGE),
		     BGR_EV_LIMIT);
	}
	return MEMCG_EXT_DEFAULT;
}

/* Set (or update after a limit change) the watermarks of a cgroup. */
SEC("syscall")
int bgr_configure(struct bgr_configure_args *a)
{
	struct mem_cgroup *memcg = memcg_ext_get_memcg(a->cgid);
	struct bgr_memcg fresh = {}, *m;
	u64 cgid = a->cgid, limit, high_gap, low_gap;
	s64 high, max;

	if (!memcg) {
		a->ret = -ENOENT;
		return 0;
	}
	high = memcg_ext_read_counter(memcg, MEMCG_EXT_CNT_HIGH);
	max = memcg_ext_read_counter(memcg, MEMCG_EXT_CNT_MAX);
	limit = min_u64(high, max);
	high_gap = max_u64(limit * high_gap_pct / 100, min_gap);
	low_gap = max_u64(limit * low_gap_pct / 100, min_gap);

	if (limit == MEMCG_EXT_UNLIMITED || limit <= high_gap + low_gap) {
		/* Nothing to keep below, or too small to leave room. */
		memcg_ext_set_watermark(memcg, 0, 0, 0);
		bpf_map_delete_elem(&bgr_memcgs, &cgid);
		a->ret = 0;
		goto out;
	}

	m = bpf_map_lookup_elem(&bgr_memcgs, &cgid);
	if (m && m->limit == limit) {
		a->ret = 1;
		goto out;
	}
	if (!m) {
		bpf_map_update_elem(&bgr_memcgs, &cgid, &fresh, BPF_NOEXIST);
		m = bpf_map_lookup_elem(&bgr_memcgs, &cgid);
		if (!m) {
			a->ret = -ENOMEM;
			goto out;
		}
	}
	m->limit = limit;
	m->high_wm = limit - high_gap;
	m->low_wm = m->high_wm - low_gap;
	a->ret = memcg_ext_set_watermark(memcg, 0, m->high_wm,
					 m->high_wm - m->low_wm) ?: 1;
out:
	memcg_ext_put_memcg(memcg);
	return 0;
}

SEC("syscall")
int bgr_target(struct bgr_target_args *a)
{
	struct mem_cgroup *memcg = memcg_ext_get_memcg(a->cgid);

	if (!memcg) {
		a->ret = -ENOENT;
		return 0;
	}
	if (a->add)
		a->ret = memcg_ext_bg_add_target(memcg, a->tgid);
	else
		a->ret = memcg_ext_bg_del_target(memcg, a->tgid);
	memcg_ext_put_memcg(memcg);
	return 0;
}

SEC("struct_ops/bgr_exit")
void BPF_PROG(bgr_exit, struct memcg_ext_exit_info *ei)
{
	MEI_RECORD(mei, ei);
}

SEC(".struct_ops.link")
struct memcg_ext_ops bgreclaim_ops = {
	.charge		= (void *)bgr_charge,
	.watermark	= (void *)bgr_watermark,
	.exit		= (void *)bgr_exit,
	.name		= "bgreclaim",
};
