/* SPDX-License-Identifier: GPL-2.0 */
/* Shared between memcg_ext_bgreclaim.bpf.c and its loader. */
#ifndef __MEMCG_EXT_BGRECLAIM_H
#define __MEMCG_EXT_BGRECLAIM_H

/* MEMCG_EXT_BG_NOSWAP of the kernel's enum memcg_ext_bg_flags */
#define BGR_NOSWAP	1

/* Per managed memcg, in the bgr_memcgs map. */
struct bgr_memcg {
	unsigned long long limit;	/* min(memory.high, memory.max) */
	unsigned long long high_wm;	/* background reclaim starts here */
	unsigned long long low_wm;	/* ... and reclaims down to here */
	unsigned long long rate;	/* charge rate estimate, bytes/s */
	unsigned long long last_fall_ns;/* usage last fell below low_wm */
	unsigned long long rises;	/* high watermark crossings */
	unsigned long long falls;	/* low watermark crossings */
	unsigned long long kicks;	/* background reclaim requests */
	unsigned long long kick_errors;
	unsigned long long limit_events;/* charges that still hit a limit */
	unsigned long long last_amount;	/* bytes asked for at the last kick */
	unsigned int last_passes;
	int last_err;
};

/* Argument of the bgr_configure syscall program. */
struct bgr_configure_args {
	unsigned long long cgid;
	int ret;	/* 1: managed, 0: no limit (not managed), <0: error */
};

/* Argument of the bgr_target syscall program. */
struct bgr_target_args {
	unsigned long long cgid;
	int tgid;
	int add;
	int ret;
};

enum bgr_event_kind {
	BGR_EV_RISE,	/* usage reached the high watermark: reclaim started */
	BGR_EV_FALL,	/* usage fell below the low watermark */
	BGR_EV_LIMIT,	/* a charge hit memory.high/max all the same */
};

/* What the policy tells the loader (and any poller) through a ring buffer. */
struct bgr_event {
	unsigned long long cgid;
	unsigned long long ktime_ns;
	unsigned long long usage;
	unsigned long long amount;	/* RISE: bytes asked for */
	unsigned long long rate;	/* RISE: charge rate estimate, bytes/s */
	unsigned int kind;
	unsigned int passes;		/* RISE: passes allowed */
	int err;			/* RISE: memcg_ext_bg_reclaim() result */
	unsigned int pad;
};

#endif /* __MEMCG_EXT_BGRECLAIM_H */
