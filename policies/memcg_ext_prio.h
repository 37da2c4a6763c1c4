/* SPDX-License-Identifier: GPL-2.0 */
/* Shared between memcg_ext_prio.bpf.c and its loader. */
#ifndef __MEMCG_EXT_PRIO_H
#define __MEMCG_EXT_PRIO_H

/*
 * Thread classes. A thread's class comes from its registered thread word
 * (set by the thread itself through the client library), else from the
 * first name rule its comm matches, else it is normal.
 */
enum prio_class {
	PRIO_CLASS_UNSET,
	PRIO_CLASS_NORMAL,	/* throttled above T2 */
	PRIO_CLASS_NEVER,	/* never reclaims synchronously nor sleeps */
	PRIO_CLASS_FIRST,	/* throttled whenever it owes reclaim */
	PRIO_NR_CLASSES,
};

/*
 * The word a thread shares with the policy, in the thread's own memory
 * (client/include/memcg_ext/thread.h has the same layout).
 */
struct prio_thread_word {
	unsigned int cs_depth;		/* > 0: inside a critical section */
	unsigned int thread_class;	/* enum prio_class */
};

/* A registered thread, in prio_threads (key: tid). */
struct prio_thread {
	unsigned long long word;	/* user address of its prio_thread_word */
	unsigned int tgid;		/* process it belongs to */
	unsigned int pad;
};

#define PRIO_MAX_NAMES		16
#define PRIO_NAME_LEN		16	/* TASK_COMM_LEN */

/* A name rule: threads whose comm starts with @prefix get @class. */
struct prio_name {
	char prefix[PRIO_NAME_LEN];
	unsigned int len;
	unsigned int thread_class;
};

/* Per managed memcg, in prio_memcgs (key: cgroup id). */
struct prio_memcg {
	unsigned long long t1, t2, t3;	/* tier thresholds, bytes; 0: off */
	/* What the policy decided, per class (index: enum prio_class). */
	unsigned long long allowed[PRIO_NR_CLASSES];
	unsigned long long deferred[PRIO_NR_CLASSES];
	unsigned long long throttled[PRIO_NR_CLASSES];
	unsigned long long in_cs;	/* charges/returns inside a section */
	unsigned long long in_txn;	/* charges inside an fs transaction */
	unsigned long long kicks;	/* background reclaim requests */
	unsigned long long kick_errors;
	unsigned long long t3_events;
};

/* Argument of the prio_configure syscall program. */
struct prio_configure_args {
	unsigned long long cgid;
	unsigned long long t1, t2, t3;
	int ret;
	unsigned int pad;
};

enum prio_event_kind {
	PRIO_EV_T1,	/* usage reached T1: background reclaim started */
	PRIO_EV_T2,	/* usage reached T2: normal threads are throttled */
	PRIO_EV_T3,	/* usage reached T3: the loader kills the cgroup */
	PRIO_EV_BELOW,	/* usage fell back below a tier */
};

struct prio_event {
	unsigned long long cgid;
	unsigned long long usage;
	unsigned long long threshold;
	unsigned int kind;
	int err;
};

#endif /* __MEMCG_EXT_PRIO_H */
