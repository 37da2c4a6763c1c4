/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * memcg_ext workload client library: the client side of the load-shedding
 * protocol (docs/PROTOCOL.md) spoken with the memcg_ext host agent over a
 * Unix stream socket.
 *
 *	struct mxc *c = mxc_open(NULL, NULL);	// $MEMCG_EXT_AGENT_SOCK or
 *						// /run/memcg_ext/agent.sock
 *	mxc_subscribe(c, 1000);
 *	// add mxc_fd(c) to epoll/poll for reading (plus writing while
 *	// mxc_want_write(c)), then on readiness:
 *	struct mxc_event ev;
 *	int r;
 *	while ((r = mxc_next_event(c, &ev)) > 0) {
 *		if (ev.type == MXC_EV_SHED)
 *			mxc_freed(c, ev.shed.id, free_some(ev.shed.bytes));
 *	}
 *	if (r < 0) ... the agent went away (r is -errno) ...
 *	mxc_close(c);
 *
 * The fd is non-blocking once mxc_open() returns. Nothing blocks afterwards:
 * messages to the agent are queued and written as the socket accepts them
 * (every call tries; mxc_flush() and mxc_want_write() let an event loop
 * finish the job). A handle is not thread-safe: use it from one thread, or
 * serialise the calls.
 */
#ifndef MEMCG_EXT_CLIENT_H
#define MEMCG_EXT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MXC_PROTOCOL_VERSION	1
/* Longest line either side may send, the '\n' included. */
#define MXC_LINE_MAX		1024
#define MXC_DEFAULT_SOCK	"/run/memcg_ext/agent.sock"
#define MXC_SOCK_ENV		"MEMCG_EXT_AGENT_SOCK"
/* HEADROOM values the agent sends as "max" (or leaves out): no limit. */
#define MXC_UNLIMITED		INT64_MAX

struct mxc;

enum mxc_event_type {
	MXC_EV_HEADROOM = 1,
	MXC_EV_PRESSURE,
	MXC_EV_SHED,
	MXC_EV_KILL_NOTICE,
	MXC_EV_ERROR,		/* an ERR line from the agent (not fatal) */
};

enum mxc_level {
	MXC_LEVEL_UNKNOWN = -1,	/* a level this library does not know */
	MXC_LEVEL_NONE = 0,
	MXC_LEVEL_LOW,
	MXC_LEVEL_MEDIUM,
	MXC_LEVEL_HIGH,
	MXC_LEVEL_CRITICAL,
};

struct mxc_event {
	enum mxc_event_type type;
	union {
		/* Bytes; t1..t3 and max are the distance from usage to each
		 * threshold, negative when above it, MXC_UNLIMITED if none. */
		struct {
			int64_t usage, t1, t2, t3, max;
		} headroom;
		struct {
			enum mxc_level level;
			double value;		/* 0..1 */
			double psi_some_avg10;	/* percent, as in memory.pressure */
		} pressure;
		struct {
			uint64_t id, bytes, deadline_ms;
			enum mxc_level level;
		} shed;
		struct {
			uint64_t deadline_ms;
		} kill_notice;
		struct {
			char code[64];
			char msg[256];	/* as sent: words joined by '_' */
		} error;
	};
};

/*
 * Connect to the agent and say HELLO (workload NULL: the agent finds the
 * workload from the caller's cgroup). Waits up to timeout_ms (mxc_open: 5 s)
 * for WELCOME. Returns NULL with errno set on failure: ENOENT/ECONNREFUSED
 * no agent, ETIMEDOUT no answer, EINVAL bad argument, EPROTO an ERR answer or
 * a bad WELCOME, EPROTONOSUPPORT the agent refused version 1, ESRCH the agent
 * knows no workload for us (ERR code=no-workload). mxc_open_error() then
 * describes the failure.
 */
struct mxc *mxc_open(const char *socket_path, const char *workload);
struct mxc *mxc_open_timeout(const char *socket_path, const char *workload,
			     int timeout_ms);
/* The last mxc_open() failure of this thread, as text. */
const char *mxc_open_error(void);

int mxc_fd(const struct mxc *c);
/* From WELCOME. */
const char *mxc_workload(const struct mxc *c);
const char *mxc_cgroup(const struct mxc *c);

/* SUBSCRIBE: headroom and pressure now, on change, and at least every
 * interval_ms (0: the agent's default). 0 or -errno. */
int mxc_subscribe(struct mxc *c, unsigned int interval_ms);

/*
 * The next event: 1 and *ev filled, 0 none pending (wait for the fd to be
 * readable), or -errno when the connection is unusable: -EPIPE the agent
 * closed it, or the error of the socket (-ECONNRESET, ...). Once it has
 * failed, every call returns the same error. Lines the library cannot use
 * (too long, unknown verbs, bad values) are skipped and counted
 * (mxc_skipped()); unknown keys are ignored.
 */
int mxc_next_event(struct mxc *c, struct mxc_event *ev);

/* Answer SHED id with what was freed. 0 or -errno. */
int mxc_freed(struct mxc *c, uint64_t id, uint64_t bytes);
/* METRIC: name is 1-64 chars of [A-Za-z0-9_.:-]; value finite. */
int mxc_report_metric(struct mxc *c, const char *name, double value);

/* Write queued output: 0 all written, 1 some left (wait for writability),
 * -errno. */
int mxc_flush(struct mxc *c);
bool mxc_want_write(const struct mxc *c);
/* Lines received and skipped as unusable. */
uint64_t mxc_skipped(const struct mxc *c);

/* Send BYE (best effort), close, free. NULL is fine. */
void mxc_close(struct mxc *c);

const char *mxc_level_name(enum mxc_level l);
enum mxc_level mxc_level_parse(const char *s);

#ifdef __cplusplus
}
#endif
#endif /* MEMCG_EXT_CLIENT_H */
