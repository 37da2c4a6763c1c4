/* SPDX-License-Identifier: GPL-2.0 */
/* Shared between memcg_ext_watch.bpf.c and its loader. */
#ifndef __MEMCG_EXT_WATCH_H
#define __MEMCG_EXT_WATCH_H

#define WATCH_NR_EVENTS	3	/* MEMCG_EXT_NR_EVENTS: high, swap_high, max */

/* What the policy saw of one memcg, keyed by cgroup id. */
struct watch_memcg {
	unsigned long long events[WATCH_NR_EVENTS];	/* ops.charge() calls */
	unsigned long long pages[WATCH_NR_EVENTS];	/* pages being charged */
	long long usage;	/* memory.current at the last event */
	long long high;		/* memory.high at the last event */
	long long max;		/* memory.max at the last event */
	unsigned long long last_ns;
	int online;
	int decision;		/* the last decision returned */
};

#endif /* __MEMCG_EXT_WATCH_H */
