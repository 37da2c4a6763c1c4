/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the mx_* synthetic workloads. */
#ifndef MX_WORKLOAD_COMMON_H
#define MX_WORKLOAD_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memcg_ext/client.h>

#define MIB (1024UL * 1024UL)
#define PAGE 4096UL

extern const char *prog;		/* "mx_service", ... */
extern volatile sig_atomic_t stop;	/* SIGINT/SIGTERM seen */

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* "prog: <text>" on stdout, flushed (the line protocol of the tests). */
void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

double now_s(void);		/* CLOCK_MONOTONIC seconds */
uint64_t now_ns(void);
void setup_signals(void);	/* SIGINT/SIGTERM -> stop; SIGPIPE ignored */

/* "16M", "1G", "4096", "512k" -> bytes; dies with a message on junk. */
uint64_t parse_size(const char *opt, const char *s);
double parse_num(const char *opt, const char *s, double min, double max);

/* Anonymous memory, not yet touched. */
void *map_anon(size_t bytes);
/* Write every page of [p, p+bytes) with non-zero data that compresses
 * about 2:1 (half of each page pseudo-random, half a repeated pattern):
 * zero pages never reach zram (the swap zeromap), and incompressible data
 * would make zram cost as much as it saves. */
void fill_pages(void *p, size_t bytes, uint64_t seed);

static inline uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Latency histogram: log-linear buckets, 1 ns .. ~17 s. */
struct lat_hist {
	uint64_t n;
	uint64_t b[64 * 16];
};
void lat_add(struct lat_hist *h, uint64_t ns);
uint64_t lat_pct(const struct lat_hist *h, double pct);	/* ns */

/* Connection to the agent (optional). */
struct agent_opts {
	bool enabled;		/* --agent */
	bool required;		/* --agent-required: exit 3 if it cannot connect */
	const char *sock;	/* --socket (NULL: $MEMCG_EXT_AGENT_SOCK or default) */
	const char *workload;	/* --workload */
	unsigned int interval_ms; /* --subscribe-ms */
};
/* Connect, HELLO, SUBSCRIBE. NULL (message printed) when it cannot. */
struct mxc *agent_connect(const struct agent_opts *o);
/* Print an event as "prog: event <VERB> key=value ...". */
void print_event(const struct mxc_event *ev);
/* Wait up to timeout_ms for the agent fd (or just sleep when c is NULL);
 * call handle() for every event. Returns false once the connection is
 * gone (printed once; c is closed and set to NULL). */
bool agent_wait(struct mxc **c, int timeout_ms,
		void (*handle)(struct mxc *c, const struct mxc_event *ev, void *arg),
		void *arg);

/* Atomically replace path with the text (tmp + rename). */
void write_file_atomic(const char *path, const char *text);

#endif
