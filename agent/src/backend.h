/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The seam between the agent's decisions and what carries them out. The
 * cgroupfs backend uses only cgroup v2 files, so it runs on a stock kernel;
 * a memcg_ext backend (BPF maps and kfuncs of the memcg_ext kernel) slots
 * in beside it with the same operations. Dry-run is decided above this
 * layer: a backend is only called for things that are really done.
 */
#ifndef MX_BACKEND_H
#define MX_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

/* What the agent knows of a cgroup at one instant. */
struct mx_cg_state {
	bool exists;
	bool populated;
	uint64_t current, peak;
	uint64_t min, low, high, max;		/* MX_UNLIMITED for "max" */
	uint64_t swap_current, swap_max;
	uint64_t anon, file;
	uint64_t refault_anon, refault_file;	/* pages, cumulative */
	uint64_t ev_low, ev_high, ev_max, ev_oom, ev_oom_kill;
	uint64_t psi_some_us, psi_full_us;	/* cumulative stall time */
	double psi_some_avg10, psi_full_avg10;
	int nr_procs;
};

enum mx_limit {
	MX_LIMIT_MIN,
	MX_LIMIT_LOW,
	MX_LIMIT_HIGH,
	MX_LIMIT_MAX,
	MX_LIMIT_SWAP_MAX,
	MX_NR_LIMITS,
};

struct mx_backend;

struct mx_backend_ops {
	const char *name;
	int (*read_state)(struct mx_backend *be, const char *cg, struct mx_cg_state *st);
	int (*set_limit)(struct mx_backend *be, const char *cg, enum mx_limit l, uint64_t bytes);
	/* Ask the kernel to reclaim; returns 0 or -errno (-EAGAIN: partial). */
	int (*reclaim)(struct mx_backend *be, const char *cg, uint64_t bytes);
	/* Kill every process of the cgroup and its descendants. */
	int (*kill)(struct mx_backend *be, const char *cg);
	/* Remove the (empty) cgroup. */
	int (*remove)(struct mx_backend *be, const char *cg);
	/*
	 * Event sources for epoll: a PSI trigger on the cgroup's memory
	 * pressure (or the host's with cg == NULL), and the notification
	 * file(s) whose changes wake the agent. Return an fd or -errno.
	 */
	int (*psi_trigger)(struct mx_backend *be, const char *cg, uint64_t stall_us,
			   uint64_t window_us);
	int (*events_fd)(struct mx_backend *be, const char *cg, const char *file);
};

struct mx_backend {
	const struct mx_backend_ops *ops;
	void *priv;
};

extern const struct mx_backend_ops mx_cgroupfs_backend_ops;

const char *mx_limit_file(enum mx_limit l);

#endif
