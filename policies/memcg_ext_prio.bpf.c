// SPDX-License-Identifier: GPL-2.0
/*
 * memcg_ext_prio: thread classes, lock-aware enforcement and tiered
 * escalation.
 *
 * Stock memcg makes whichever task charges at the limit reclaim, in the
 * charge path, whatever locks it holds. This policy decides per thread:
 *
 *   never-throttle threads   owe nothing: no synchronous reclaim, no sleep
 *                            (ALLOW; past memory.max only within the
 *                            overdraft cap the kernel enforces);
 *   throttle-first threads   reclaim on their return to user mode and are
 *                            throttled there (THROTTLE);
 *   normal threads           past memory.max, reclaim on their return to
 *                            user mode (DEFER, within the overdraft cap);
 *                            over memory.high, stock; throttled too once
 *                            usage is above T2.
 *
 * Lock awareness, kernel side: a charge made while a file system
 * transaction is open (a jbd2 handle) is never reclaimed there; it is
 * deferred to the return to user mode, where no kernel lock is held.
 * User side: a thread inside a critical section it marked in its thread
 * word (client library: mx_cs_enter()/mx_mutex_lock()) is neither
 * reclaimed for nor throttled until it has left it: its debt is kept.
 *
 * Tiers, per cgroup: above T1 background reclaim, above T2 normal threads
 * are throttled, at T3 the loader kills the whole cgroup and says why.
 * Usage stays bounded by memory.max plus the overdraft cap whatever this
 * policy decides: the kernel enforces both.
 */
#include <memcg_ext/common.bpf.h>
#include "memcg_ext_prio.h"

char _license[] SEC("license") = "GPL";

/* Tunables, set by the loader before load. */
const volatile u32 base_throttle_ms = 20;	/* throttle-first threads */
const volatile u32 max_throttle_ms = 200;	/* at T3 */
/* A thread sleeps at most once per period: throttling is a duty cycle. */
const volatile u32 throttle_period_ms = 100;
const volatile bool manage_all;			/* every cgroup, no tiers */
const volatile u32 nr_names;
/* Name rules: the first whose prefix the thread's comm starts with wins. */
const volatile struct prio_name names[PRIO_MAX_NAMES];

MEI_DEFINE(mei);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u64);
	__type(value, struct prio_memcg);
} prio_memcgs SEC(".maps");

/* Registered threads; the loader adds them, thread exit removes them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, u32);
	__type(value, struct prio_thread);
} prio_threads SEC(".maps");

/* When each thread was last throttled (key: tid). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, u64);
} prio_last_throttle SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} prio_events SEC(".maps");

/* For cgroups not configured when manage_all is set: no tiers, no stats. */
struct prio_memcg unconfigured;

static void send_event(u64 cgid, u32 kind, u64 usage, u64 threshold, int err)
{
	struct prio_event *e = bpf_ringbuf_reserve(&prio_events, sizeof(*e), 0);

	if (!e)
		return;
	e->cgid = cgid;
	e->kind = kind;
	e->usage = usage;
	e->threshold = threshold;
	e->err = err;
	bpf_ringbuf_submit(e, 0);
}

static struct prio_memcg *config_of(struct mem_cgroup *memcg)
{
	u64 cgid = memcg_ext_cgroup_id(memcg);
	struct prio_memcg *m = bpf_map_lookup_elem(&prio_memcgs, &cgid);

	if (m)
		return m;
	return manage_all ? &unconfigured : NULL;
}

static u32 name_class(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	u32 i, j;

	for (i = 0; i < PRIO_MAX_NAMES && i < nr_names; i++) {
		bool match = names[i].len > 0;

		for (j = 0; j < PRIO_NAME_LEN && j < names[i].len; j++) {
			if (task->comm[j] != names[i].prefix[j]) {
				match = false;
				break;
			}
		}
		if (match)
			return names[i].thread_class;
	}
	return PRIO_CLASS_UNSET;
}

/* The current thread's class, and whether it is inside a critical section. */
static u32 current_class(bool *in_cs)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	u32 tid = (u32)pid_tgid, cls = PRIO_CLASS_UNSET;
	struct prio_thread *t = bpf_map_lookup_elem(&prio_threads, &tid);

	*in_cs = false;
	if (t && t->tgid == (u32)(pid_tgid >> 32) && t->word) {
		struct prio_thread_word w;

		/* Fails (and counts as unset) if the page is not resident. */
		if (!bpf_probe_read_user(&w, sizeof(w), (void *)t->word)) {
			*in_cs = w.cs_depth > 0;
			if (w.thread_class < PRIO_NR_CLASSES)
				cls = w.thread_class;
		}
	}
	if (cls == PRIO_CLASS_UNSET)
		cls = name_class();
	if (cls == PRIO_CLASS_UNSET || cls >= PRIO_NR_CLASSES)
		cls = PRIO_CLASS_NORMAL;
	return cls;
}

/* Throttle time: the base, growing to the maximum as usage goes T2 -> T3. */
static u32 throttle_ms(struct prio_memcg *m, u64 usage)
{
	u64 ms = base_throttle_ms;

	if (m->t2 && m->t3 > m->t2 && usage > m->t2) {
		u64 over = usage - m->t2, span = m->t3 - m->t2;

		if (over > span)
			over = span;
		if (max_throttle_ms > base_throttle_ms)
			ms += (max_throttle_ms - base_throttle_ms) * over / span;
	}
	return ms < max_throttle_ms ? ms : max_throttle_ms;
}

/* Reclaim @memcg in the background down to a little below @level. */
static void kick(struct mem_cgroup *memcg, struct prio_memcg *m, u64 usage,
		 u64 level)
{
	u64 margin = level / 32 > (2 << 20) ? level / 32 : (2 << 20);
	int err;

	if (usage + margin <= level)
		return;
	err = memcg_ext_bg_reclaim(memcg, usage + margin - level, 1, 0);
	m->kicks++;
	if (err)
		m->kick_errors++;
}

SEC("struct_ops/prio_charge")
s32 BPF_PROG(prio_charge, struct mem_cgroup *memcg, struct mem_cgroup *over,
	     struct memcg_ext_charge *charge)
{
	struct prio_memcg *m = config_of(over);
	u64 usage, max;
	bool in_cs;
	u32 cls;

	if (!m)
		return MEMCG_EXT_DEFAULT;

	usage = memcg_ext_read_counter(over, MEMCG_EXT_CNT_USAGE);
	cls = current_class(&in_cs);

	/*
	 * Whoever owes nothing now, background reclaim pays for: to T1 if
	 * set, else back under memory.max when the charge passes it.
	 */
	if (m->t1)
		kick(over, m, usage, m->t1);
	if (charge->event == MEMCG_EXT_EV_MAX) {
		max = memcg_ext_read_counter(over, MEMCG_EXT_CNT_MAX);
		kick(over, m, usage + ((u64)charge->nr_pages << 12), max);
	}

	if (cls == PRIO_CLASS_NEVER) {
		m->allowed[cls]++;
		return MEMCG_EXT_ALLOW;
	}
	if (in_cs) {
		m->in_cs++;
		m->deferred[cls]++;
		return MEMCG_EXT_DEFER;
	}
	if (charge->flags & MEMCG_EXT_CHARGE_FS_TRANSACTION) {
		m->in_txn++;
		m->deferred[cls]++;
		return MEMCG_EXT_DEFER;
	}
	if (cls == PRIO_CLASS_FIRST || (m->t2 && usage >= m->t2)) {
		m->throttled[cls]++;
		return MEMCG_EXT_THROTTLE;
	}
	/*
	 * Normal threads: past memory.max the overdraft cap bounds what a
	 * deferral lets through, so reclaim on the way out of the kernel.
	 * Over memory.high nothing but memory.max would: keep stock's
	 * synchronous reclaim of a big single-shot allocation.
	 */
	if (charge->event == MEMCG_EXT_EV_MAX) {
		m->deferred[cls]++;
		return MEMCG_EXT_DEFER;
	}
	return MEMCG_EXT_DEFAULT;
}

SEC("struct_ops/prio_user_return")
s32 BPF_PROG(prio_user_return, struct mem_cgroup *memcg,
	     struct memcg_ext_user_return *ur)
{
	struct prio_memcg *m = config_of(memcg);
	bool in_cs;
	u64 usage;
	u32 cls;

	if (!m)
		return MEMCG_EXT_DEFAULT;

	cls = current_class(&in_cs);
	if (cls == PRIO_CLASS_NEVER)
		return MEMCG_EXT_ALLOW;
	/* Keep the debt until the thread has left its critical section. */
	if (in_cs) {
		m->in_cs++;
		return MEMCG_EXT_DEFER;
	}
	usage = memcg_ext_read_counter(memcg, MEMCG_EXT_CNT_USAGE);
	if (cls == PRIO_CLASS_FIRST || (m->t2 && usage >= m->t2)) {
		u32 tid = (u32)bpf_get_current_pid_tgid();
		u64 now = bpf_ktime_get_ns(), *last;

		/*
		 * Reclaim what is owed every time; sleep once a period, so
		 * that the thread runs at a duty cycle the tiers set.
		 */
		last = bpf_map_lookup_elem(&prio_last_throttle, &tid);
		if (last && now - *last < throttle_period_ms * 1000000ULL) {
			ur->throttle_ms = 0;
		} else {
			ur->throttle_ms = throttle_ms(m, usage);
			bpf_map_update_elem(&prio_last_throttle, &tid, &now,
					    BPF_ANY);
			m->throttled[cls]++;
		}
		return MEMCG_EXT_THROTTLE;
	}
	/* Normal threads below T2: reclaim what they owe, as stock does. */
	return MEMCG_EXT_DEFAULT;
}

SEC("struct_ops/prio_watermark")
void BPF_PROG(prio_watermark, struct mem_cgroup *memcg, u32 index, u32 rising,
	      u64 usage)
{
	u64 cgid = memcg_ext_cgroup_id(memcg);
	struct prio_memcg *m = bpf_map_lookup_elem(&prio_memcgs, &cgid);
	u64 level;

	if (!m || index > 2)
		return;
	level = index == 0 ? m->t1 : index == 1 ? m->t2 : m->t3;
	if (!rising) {
		send_event(cgid, PRIO_EV_BELOW, usage, level, 0);
		return;
	}
	switch (index) {
	case 0:
		kick(memcg, m, usage, level);
		send_event(cgid, PRIO_EV_T1, usage, level, 0);
		break;
	case 1:
		send_event(cgid, PRIO_EV_T2, usage, level, 0);
		break;
	case 2:
		m->t3_events++;
		send_event(cgid, PRIO_EV_T3, usage, level, 0);
		break;
	}
}

/* Set the tiers of a cgroup (all 0: stop managing it). */
SEC("syscall")
int prio_configure(struct prio_configure_args *a)
{
	struct mem_cgroup *memcg = memcg_ext_get_memcg(a->cgid);
	struct prio_memcg fresh = {}, *m;
	u64 cgid = a->cgid, hyst;
	int err = 0;

	if (!memcg) {
		a->ret = -ENOENT;
		return 0;
	}
	if ((a->t2 && a->t1 > a->t2) || (a->t3 && a->t2 > a->t3) ||
	    (a->t3 && a->t1 > a->t3)) {
		a->ret = -EINVAL;
		goto out;
	}
	m = bpf_map_lookup_elem(&prio_memcgs, &cgid);
	if (!m) {
		bpf_map_update_elem(&prio_memcgs, &cgid, &fresh, BPF_NOEXIST);
		m = bpf_map_lookup_elem(&prio_memcgs, &cgid);
		if (!m) {
			a->ret = -ENOMEM;
			goto out;
		}
	}
	m->t1 = a->t1;
	m->t2 = a->t2;
	m->t3 = a->t3;
	/* Crossings do not storm: fall back 1/16 below a tier first. */
	hyst = a->t1 / 16;
	err = err ?: memcg_ext_set_watermark(memcg, 0, a->t1, hyst);
	hyst = a->t2 / 16;
	err = err ?: memcg_ext_set_watermark(memcg, 1, a->t2, hyst);
	hyst = a->t3 / 16;
	err = err ?: memcg_ext_set_watermark(memcg, 2, a->t3, hyst);
	a->ret = err;
out:
	memcg_ext_put_memcg(memcg);
	return 0;
}

/* A registered thread is gone: forget it (its tid may be reused). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(prio_thread_exit, struct task_struct *task)
{
	u32 tid = task->pid;

	bpf_map_delete_elem(&prio_threads, &tid);
	return 0;
}

SEC("struct_ops/prio_exit")
void BPF_PROG(prio_exit, struct memcg_ext_exit_info *ei)
{
	MEI_RECORD(mei, ei);
}

SEC(".struct_ops.link")
struct memcg_ext_ops prio_ops = {
	.charge		= (void *)prio_charge,
	.user_return	= (void *)prio_user_return,
	.watermark	= (void *)prio_watermark,
	.exit		= (void *)prio_exit,
	.name		= "prio",
};
