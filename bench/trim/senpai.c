// SPDX-License-Identifier: GPL-2.0
/*
 * senpai: the reference trim controller of the trim benchmark, written from
 * the published description of Facebook's senpai
 * (github.com/facebookincubator/senpai, README and its documented
 * parameters); no code was taken from it.
 *
 * The algorithm: every tick, add the growth of the cgroup's cumulative
 * memory stall time ("some total=" in memory.pressure, microseconds) to an
 * integral.
 *   - integral above the target PRESSURE: back off at once, raising
 *     memory.high by  min(max_backoff * (integral/pressure/coeff_backoff)^2,
 *     max_backoff)  of itself; reset the integral; wait INTERVAL ticks;
 *   - otherwise, once INTERVAL ticks passed since the last adjustment:
 *     probe, lowering memory.high by  min(max_probe *
 *     (pressure/max(integral,1)/coeff_probe)^2, max_probe)  of itself;
 *     reset the integral.
 * The limit is clamped to [min_size, max_size] and page aligned. If
 * memory.high is not what senpai last wrote (at start, or someone else
 * changed it), it restarts from memory.current.
 *
 * Published defaults: tick 1 s, interval 6 ticks, pressure 10 ms,
 * max_probe 0.01, max_backoff 1.0, coeff_probe 10, coeff_backoff 20,
 * min_size 100M, max_size 100G. The benchmark scales time and sizes to the
 * VM (bench/trim/run-guest.sh says how); every parameter is an option.
 *
 * usage: senpai --cgroup DIR [--tick-ms 1000] [--interval 6] [--pressure-us 10000]
 *               [--max-probe 0.01] [--max-backoff 1.0] [--coeff-probe 10]
 *               [--coeff-backoff 20] [--min-size 100M] [--max-size 100G]
 *               [--duration S] [--quiet]
 * Prints one line per adjustment (every tick without --quiet):
 *   senpai: t=<s> limit=<bytes> current=<bytes> integral=<us> adjust=<factor>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;
static const char *cg;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *fmt, const char *a)
{
	fprintf(stderr, "senpai: error: ");
	fprintf(stderr, fmt, a);
	fputc('\n', stderr);
	exit(2);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int read_file(const char *name, char *buf, size_t len)
{
	char path[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", cg, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
	return 0;
}

static uint64_t read_u64(const char *name)
{
	char buf[64];

	if (read_file(name, buf, sizeof(buf)))
		die("cannot read %s", name);
	if (!strncmp(buf, "max", 3))
		return UINT64_MAX;
	return strtoull(buf, NULL, 10);
}

/* Cumulative "some" stall time of the cgroup, microseconds. */
static uint64_t stall_total(void)
{
	char buf[512], *p;

	if (read_file("memory.pressure", buf, sizeof(buf)))
		die("cannot read %s/memory.pressure (CONFIG_PSI?)", cg);
	p = strstr(buf, "some ");
	p = p ? strstr(p, "total=") : NULL;
	if (!p)
		die("no 'some ... total=' in %s/memory.pressure", cg);
	return strtoull(p + 6, NULL, 10);
}

static void write_high(uint64_t v)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/memory.high", cg);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%" PRIu64 "\n", v) < 0 || fclose(f))
		die("cannot write %s", path);
}

struct conf {
	double tick_ms, max_probe, max_backoff, coeff_probe, coeff_backoff;
	uint64_t interval, pressure, min_size, max_size;
};

static double sq(double x)
{
	return x * x;
}

static uint64_t limit;	/* what we last wrote; 0: nothing yet */

/* Set memory.high to want (or restart from memory.current). */
static void set_limit(const struct conf *c, double want)
{
	uint64_t v;

	if (!limit || read_u64("memory.high") != limit) {
		printf("senpai: resetting limit to memory.current\n");
		want = (double)read_u64("memory.current");
	}
	if (want < (double)c->min_size)
		want = (double)c->min_size;
	if (want > (double)c->max_size)
		want = (double)c->max_size;
	v = (uint64_t)want & ~4095ULL;
	write_high(v);
	limit = v;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		die("bad size '%s'", s);
	switch (*end) {
	case 'k': case 'K': v *= 1024; break;
	case 'm': case 'M': v *= 1024 * 1024; break;
	case 'g': case 'G': v *= 1024.0 * 1024 * 1024; break;
	case 0: break;
	default: die("bad size '%s'", s);
	}
	return (uint64_t)v;
}

static double parse_d(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !isfinite(v) || v < 0)
		die("bad number '%s'", s);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cgroup", 1, 0, 'c' }, { "tick-ms", 1, 0, 't' }, { "interval", 1, 0, 'i' },
		{ "pressure-us", 1, 0, 'p' }, { "max-probe", 1, 0, 'P' },
		{ "max-backoff", 1, 0, 'B' }, { "coeff-probe", 1, 0, 'q' },
		{ "coeff-backoff", 1, 0, 'b' }, { "min-size", 1, 0, 'm' },
		{ "max-size", 1, 0, 'M' }, { "duration", 1, 0, 'd' },
		{ "quiet", 0, 0, 'Q' }, { 0 }
	};
	struct conf c = {
		.tick_ms = 1000, .interval = 6, .pressure = 10000, .max_probe = 0.01,
		.max_backoff = 1.0, .coeff_probe = 10, .coeff_backoff = 20,
		.min_size = 100ULL << 20, .max_size = 100ULL << 30,
	};
	double duration = 0;
	bool quiet = false;
	int o;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'c': cg = optarg; break;
		case 't': c.tick_ms = parse_d(optarg); break;
		case 'i': c.interval = (uint64_t)parse_d(optarg); break;
		case 'p': c.pressure = (uint64_t)parse_d(optarg); break;
		case 'P': c.max_probe = parse_d(optarg); break;
		case 'B': c.max_backoff = parse_d(optarg); break;
		case 'q': c.coeff_probe = parse_d(optarg); break;
		case 'b': c.coeff_backoff = parse_d(optarg); break;
		case 'm': c.min_size = parse_size(optarg); break;
		case 'M': c.max_size = parse_size(optarg); break;
		case 'd': duration = parse_d(optarg); break;
		case 'Q': quiet = true; break;
		default:
			fprintf(stderr, "usage: see the comment at the top of bench/trim/senpai.c\n");
			return 2;
		}
	}
	if (!cg || optind != argc)
		die("%s", "usage: senpai --cgroup DIR [options]");
	if (c.tick_ms < 1 || !c.interval || !c.pressure || !c.coeff_probe || !c.coeff_backoff)
		die("%s", "tick-ms, interval, pressure-us and the coefficients must be positive");

	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("senpai: cgroup=%s tick_ms=%g interval=%" PRIu64 " pressure_us=%" PRIu64
	       " max_probe=%g max_backoff=%g coeff_probe=%g coeff_backoff=%g min_size=%" PRIu64
	       " max_size=%" PRIu64 "\n", cg, c.tick_ms, c.interval, c.pressure, c.max_probe,
	       c.max_backoff, c.coeff_probe, c.coeff_backoff, c.min_size, c.max_size);
	set_limit(&c, 0);

	uint64_t last = stall_total(), integral = 0, grace = c.interval;
	double start = now_s(), next = start;

	while (!stop) {
		next += c.tick_ms / 1000.0;
		double sl = next - now_s();

		if (sl > 0) {
			struct timespec ts = { (time_t)sl, (long)((sl - (time_t)sl) * 1e9) };

			while (nanosleep(&ts, &ts) && errno == EINTR && !stop)
				;
		}
		if (stop)
			break;
		uint64_t total = stall_total();
		double adj = 0;
		bool adjusted = false;

		integral += total - last;
		last = total;
		if (integral > c.pressure) {
			/* back off: quadratic in the error, bounded */
			double err = (double)integral / c.pressure;

			adj = sq(err / c.coeff_backoff) * c.max_backoff;
			if (adj > c.max_backoff)
				adj = c.max_backoff;
			adjusted = true;
		} else if (grace) {
			grace--;
		} else {
			/* probe: the further below target, the bolder */
			double err = (double)c.pressure / (integral > 0 ? integral : 1);

			adj = sq(err / c.coeff_probe) * c.max_probe;
			adj = -(adj > c.max_probe ? c.max_probe : adj);
			adjusted = true;
		}
		uint64_t cur = read_u64("memory.current");

		if (adjusted || !quiet)
			printf("senpai: t=%.1f limit=%" PRIu64 " current=%" PRIu64 " integral=%" PRIu64
			       " adjust=%+.5f\n", now_s() - start, limit, cur, integral, adj);
		if (adjusted) {
			set_limit(&c, (double)limit * (1 + adj));
			integral = 0;
			grace = c.interval - 1;
		}
		fflush(stdout);
		if (duration && now_s() - start >= duration)
			break;
	}
	printf("senpai: exit limit=%" PRIu64 "\n", limit);
	return 0;
}
