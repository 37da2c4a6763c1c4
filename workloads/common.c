// SPDX-License-Identifier: GPL-2.0
/* Helpers shared by the mx_* synthetic workloads. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

const char *prog = "mx";
volatile sig_atomic_t stop;

void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: error: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

void out(const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", prog);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

void setup_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* A shell's `cmd &` leaves SIGINT ignored: install ours regardless. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

uint64_t parse_size(const char *opt, const char *s)
{
	char *end;
	double v;
	uint64_t mul = 1;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0 || !isfinite(v))
		die("%s: '%s' is not a size (e.g. 16M, 1G, 4096)", opt, s);
	switch (*end) {
	case 0: break;
	case 'k': case 'K': mul = 1024; end++; break;
	case 'm': case 'M': mul = MIB; end++; break;
	case 'g': case 'G': mul = 1024 * MIB; end++; break;
	default: die("%s: '%s': unknown unit '%s' (k, M, G)", opt, s, end);
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end)
		die("%s: '%s': trailing '%s'", opt, s, end);
	if (v * mul > (double)(1ULL << 46))
		die("%s: '%s' is too large", opt, s);
	return (uint64_t)(v * mul);
}

double parse_num(const char *opt, const char *s, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		die("%s: '%s' is not a number", opt, s);
	if (v < min || v > max)
		die("%s: %g is out of range [%g, %g]", opt, v, min, max);
	return v;
}

void *map_anon(size_t bytes)
{
	void *p;

	if (!bytes)
		return NULL;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap %zu bytes: %s", bytes, strerror(errno));
	/* 4 KiB pages: THP would make reclaim and refaults coarse. */
	madvise(p, bytes, MADV_NOHUGEPAGE);
	return p;
}

void fill_pages(void *p, size_t bytes, uint64_t seed)
{
	uint64_t s = seed | 1;

	for (size_t off = 0; off + PAGE <= bytes; off += PAGE) {
		uint64_t *w = (uint64_t *)((char *)p + off);
		uint64_t pat = (off / PAGE) * 0x9e3779b97f4a7c15ULL | 1;

		for (size_t i = 0; i < PAGE / 16; i++)
			w[i] = xorshift64(&s);
		for (size_t i = PAGE / 16; i < PAGE / 8; i++)
			w[i] = pat;
	}
}

/* Bucket: 16 linear sub-buckets per power of two. */
static unsigned int lat_bucket(uint64_t ns)
{
	unsigned int e, sub;

	if (ns < 16)
		return (unsigned int)ns;
	e = 63 - __builtin_clzll(ns);		/* >= 4 */
	sub = (unsigned int)(ns >> (e - 4)) & 15;
	if (e > 63 - 1)
		e = 62;
	return (e - 3) * 16 + sub;
}

static uint64_t bucket_value(unsigned int b)
{
	unsigned int e, sub;

	if (b < 16)
		return b;
	e = b / 16 + 3;
	sub = b % 16;
	return ((16ULL + sub) << (e - 4)) + ((1ULL << (e - 4)) >> 1);
}

void lat_add(struct lat_hist *h, uint64_t ns)
{
	unsigned int b = lat_bucket(ns);

	if (b >= sizeof(h->b) / sizeof(h->b[0]))
		b = sizeof(h->b) / sizeof(h->b[0]) - 1;
	h->b[b]++;
	h->n++;
}

uint64_t lat_pct(const struct lat_hist *h, double pct)
{
	uint64_t want, acc = 0;

	if (!h->n)
		return 0;
	want = (uint64_t)ceil(h->n * pct / 100.0);
	if (want < 1)
		want = 1;
	for (unsigned int b = 0; b < sizeof(h->b) / sizeof(h->b[0]); b++) {
		acc += h->b[b];
		if (acc >= want)
			return bucket_value(b);
	}
	return bucket_value(sizeof(h->b) / sizeof(h->b[0]) - 1);
}

struct mxc *agent_connect(const struct agent_opts *o)
{
	struct mxc *c;

	if (!o->enabled)
		return NULL;
	c = mxc_open(o->sock, o->workload);
	if (!c) {
		out("agent: not connected: %s", mxc_open_error());
		if (o->required)
			exit(3);
		return NULL;
	}
	out("agent: connected workload=%s cgroup=%s", mxc_workload(c), mxc_cgroup(c));
	if (mxc_subscribe(c, o->interval_ms) < 0)
		out("agent: SUBSCRIBE failed");
	return c;
}

void print_event(const struct mxc_event *ev)
{
	switch (ev->type) {
	case MXC_EV_HEADROOM:
		out("event HEADROOM usage=%lld t1=%lld t2=%lld t3=%lld max=%lld",
		    (long long)ev->headroom.usage, (long long)ev->headroom.t1,
		    (long long)ev->headroom.t2, (long long)ev->headroom.t3,
		    (long long)ev->headroom.max);
		break;
	case MXC_EV_PRESSURE:
		out("event PRESSURE level=%s value=%.3f psi_some_avg10=%.2f",
		    mxc_level_name(ev->pressure.level), ev->pressure.value,
		    ev->pressure.psi_some_avg10);
		break;
	case MXC_EV_SHED:
		out("event SHED id=%llu bytes=%llu deadline_ms=%llu level=%s",
		    (unsigned long long)ev->shed.id, (unsigned long long)ev->shed.bytes,
		    (unsigned long long)ev->shed.deadline_ms, mxc_level_name(ev->shed.level));
		break;
	case MXC_EV_KILL_NOTICE:
		out("event KILL_NOTICE deadline_ms=%llu",
		    (unsigned long long)ev->kill_notice.deadline_ms);
		break;
	case MXC_EV_ERROR:
		out("event ERR code=%s msg=%s", ev->error.code, ev->error.msg);
		break;
	}
}

bool agent_wait(struct mxc **c, int timeout_ms,
		void (*handle)(struct mxc *c, const struct mxc_event *ev, void *arg),
		void *arg)
{
	struct mxc_event ev;
	struct pollfd pfd;
	int r;

	if (!*c) {
		if (timeout_ms > 0)
			poll(NULL, 0, timeout_ms);
		return false;
	}
	pfd.fd = mxc_fd(*c);
	pfd.events = POLLIN | (mxc_want_write(*c) ? POLLOUT : 0);
	if (timeout_ms >= 0 && poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	if (pfd.revents & POLLOUT)
		mxc_flush(*c);
	while ((r = mxc_next_event(*c, &ev)) > 0) {
		print_event(&ev);
		if (handle)
			handle(*c, &ev, arg);
	}
	if (r < 0) {
		out("agent: connection lost: %s", strerror(-r));
		mxc_close(*c);
		*c = NULL;
		return false;
	}
	return true;
}

void write_file_atomic(const char *path, const char *text)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fputs(text, f);
	if (fclose(f) == 0)
		rename(tmp, path);
}
