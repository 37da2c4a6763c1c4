// SPDX-License-Identifier: GPL-2.0
/*
 * mx_service: a latency-critical service. It serves --rate requests per
 * second; a request touches --pages-per-op pseudo-random pages of a hot set
 * and its latency is measured from when it was due (so a stall delays the
 * requests queued behind it too). It also holds a cache it can give back:
 * subscribed to the agent (--agent), it answers SHED by dropping cache
 * (madvise MADV_DONTNEED) and FREED with what it dropped, and reports
 * METRIC ops_per_s and latency_p99_us.
 *
 * Every --report-ms:
 *   mx_service: t=<s> ops_per_s=<n> p50_us=<n> p99_us=<n> p999_us=<n> max_us=<n> cache=<bytes>
 * At the end:
 *   mx_service: summary ops=<n> ops_per_s=<n> p50_us=.. p99_us=.. p999_us=.. sheds=<n> freed=<bytes>
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "common.h"

static void usage(void)
{
	fprintf(stderr,
"usage: mx_service [options]\n"
"  --hot SIZE          hot set touched by requests (default 16M)\n"
"  --cache SIZE        cache it holds and drops on SHED (default 16M)\n"
"  --rate N            requests per second (default 2000)\n"
"  --pages-per-op N    pages a request touches (default 4)\n"
"  --duration S        seconds to run (default 30; 0 = until SIGTERM)\n"
"  --report-ms MS      report interval (default 1000)\n"
"  --metric-file PATH  write \"ops_per_s <n>\" there every report\n"
"  --agent, --agent-required, --socket PATH, --workload NAME, --subscribe-ms MS\n"
"                      as for mx_hotcold\n");
	exit(2);
}

struct svc {
	char *cache;
	uint64_t cache_size, cache_left;	/* bytes still held */
	uint64_t sheds, freed;
};

static void on_event(struct mxc *c, const struct mxc_event *ev, void *arg)
{
	struct svc *s = arg;

	if (ev->type != MXC_EV_SHED)
		return;
	uint64_t want = (ev->shed.bytes + PAGE - 1) & ~(PAGE - 1);
	uint64_t give = want < s->cache_left ? want : s->cache_left;

	if (give) {
		/* drop from the end of what is left */
		madvise(s->cache + s->cache_left - give, give, MADV_DONTNEED);
		s->cache_left -= give;
	}
	s->sheds++;
	s->freed += give;
	mxc_freed(c, ev->shed.id, give);
	out("shed id=%" PRIu64 " asked=%" PRIu64 " freed=%" PRIu64 " cache_left=%" PRIu64,
	    ev->shed.id, ev->shed.bytes, give, s->cache_left);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "hot", 1, 0, 'H' }, { "cache", 1, 0, 'C' }, { "rate", 1, 0, 'R' },
		{ "pages-per-op", 1, 0, 'p' }, { "duration", 1, 0, 'd' },
		{ "report-ms", 1, 0, 'r' }, { "metric-file", 1, 0, 'm' },
		{ "agent", 0, 0, 'a' }, { "agent-required", 0, 0, 'A' },
		{ "socket", 1, 0, 'S' }, { "workload", 1, 0, 'W' },
		{ "subscribe-ms", 1, 0, 'i' }, { "help", 0, 0, 'h' }, { 0 }
	};
	uint64_t hot = 16 * MIB;
	double rate = 2000, duration = 30, report_ms = 1000;
	int ppo = 4;
	const char *metric_file = NULL;
	struct agent_opts ao = { 0 };
	struct svc s = { .cache_size = 16 * MIB };
	int o;

	prog = "mx_service";
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'H': hot = parse_size("--hot", optarg); break;
		case 'C': s.cache_size = parse_size("--cache", optarg); break;
		case 'R': rate = parse_num("--rate", optarg, 1, 1e7); break;
		case 'p': ppo = (int)parse_num("--pages-per-op", optarg, 1, 4096); break;
		case 'd': duration = parse_num("--duration", optarg, 0, 1e7); break;
		case 'r': report_ms = parse_num("--report-ms", optarg, 10, 3.6e6); break;
		case 'm': metric_file = optarg; break;
		case 'a': ao.enabled = true; break;
		case 'A': ao.enabled = ao.required = true; break;
		case 'S': ao.sock = optarg; break;
		case 'W': ao.workload = optarg; break;
		case 'i': ao.interval_ms = (unsigned int)parse_num("--subscribe-ms", optarg, 0, 3.6e6); break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	hot &= ~(PAGE - 1);
	s.cache_size &= ~(PAGE - 1);
	if (hot < PAGE)
		die("--hot must be at least one page");
	setup_signals();

	struct mxc *c = agent_connect(&ao);
	char *h = map_anon(hot);

	s.cache = map_anon(s.cache_size);
	s.cache_left = s.cache_size;
	fill_pages(h, hot, 11);
	fill_pages(s.cache, s.cache_size, 17);
	out("ready hot=%" PRIu64 " cache=%" PRIu64 " rate=%.0f pages_per_op=%d",
	    hot, s.cache_size, rate, ppo);

	static struct lat_hist all, iv;
	uint64_t rng = 0x9e3779b97f4a7c15ULL, pages = hot / PAGE;
	uint64_t ops = 0, last_ops = 0, max_iv = 0;
	uint64_t start = now_ns(), last = start, period = (uint64_t)(1e9 / rate);
	volatile uint64_t sink = 0;

	while (!stop) {
		uint64_t now = now_ns();
		uint64_t due = start + ops * period;

		if (now < due) {
			/* idle until the next request is due, serving the agent */
			int ms = (int)((due - now) / 1000000);

			if (ms > 0) {
				agent_wait(&c, ms, on_event, &s);
			} else {
				struct timespec ts = { 0, (long)(due - now) };

				if (c)
					agent_wait(&c, 0, on_event, &s);
				nanosleep(&ts, NULL);
			}
			continue;
		}
		for (int i = 0; i < ppo; i++) {
			uint64_t r = xorshift64(&rng);
			uint64_t *w = (uint64_t *)(h + (r % pages) * PAGE + ((r >> 40) & (PAGE / 8 - 1)) * 8);

			*w += 1;
			sink += *w;
		}
		uint64_t lat = now_ns() - due;

		lat_add(&all, lat);
		lat_add(&iv, lat);
		if (lat > max_iv)
			max_iv = lat;
		ops++;
		now = now_ns();
		if (now - last >= (uint64_t)(report_ms * 1e6)) {
			double r = (ops - last_ops) / ((now - last) / 1e9);

			out("t=%.1f ops_per_s=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f cache=%" PRIu64,
			    (now - start) / 1e9, r, lat_pct(&iv, 50) / 1e3, lat_pct(&iv, 99) / 1e3,
			    lat_pct(&iv, 99.9) / 1e3, max_iv / 1e3, s.cache_left);
			if (metric_file) {
				char txt[64];

				snprintf(txt, sizeof(txt), "ops_per_s %.0f\n", r);
				write_file_atomic(metric_file, txt);
			}
			if (c) {
				mxc_report_metric(c, "ops_per_s", r);
				mxc_report_metric(c, "latency_p99_us", lat_pct(&iv, 99) / 1e3);
			}
			memset(&iv, 0, sizeof(iv));
			max_iv = 0;
			last = now;
			last_ops = ops;
			if (duration && (now - start) / 1e9 >= duration)
				break;
		}
	}
	double el = (now_ns() - start) / 1e9;

	out("summary ops=%" PRIu64 " ops_per_s=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f sheds=%" PRIu64
	    " freed=%" PRIu64 "%s", ops, ops / el, lat_pct(&all, 50) / 1e3, lat_pct(&all, 99) / 1e3,
	    lat_pct(&all, 99.9) / 1e3, s.sheds, s.freed, sink == 42 ? " " : "");
	mxc_close(c);
	return 0;
}
