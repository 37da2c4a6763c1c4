// SPDX-License-Identifier: GPL-2.0
/*
 * mx_batch: a batch job. It allocates --size of anonymous memory in
 * --chunk pieces at --rate bytes per second (0: as fast as it can), writing
 * every page (non-zero data), then holds it, re-writing all of it once per
 * --retouch-s seconds (0: never), until --duration is over.
 *
 *   mx_batch: t=<s> allocated=<bytes> passes=<n>        every --report-ms
 *   mx_batch: done allocated=<bytes> alloc_s=<s>        when all is allocated
 *   mx_batch: summary allocated=<bytes> passes=<n> duration_s=<s>
 * With --agent it subscribes, prints events and answers SHED with FREED
 * bytes=0 (a batch job has nothing to give back).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

static void usage(void)
{
	fprintf(stderr,
"usage: mx_batch [options]\n"
"  --size SIZE         total to allocate (default 64M)\n"
"  --rate SIZE         allocation rate per second (default 0 = unthrottled)\n"
"  --chunk SIZE        allocation unit (default 1M)\n"
"  --retouch-s S       re-write everything every S seconds once allocated (default 0 = never)\n"
"  --duration S        seconds to run (default 30; 0 = until SIGTERM)\n"
"  --report-ms MS      report interval (default 1000)\n"
"  --agent, --agent-required, --socket PATH, --workload NAME, --subscribe-ms MS\n");
	exit(2);
}

static void on_event(struct mxc *c, const struct mxc_event *ev, void *arg)
{
	(void)arg;
	if (ev->type == MXC_EV_SHED)
		mxc_freed(c, ev->shed.id, 0);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "size", 1, 0, 'z' }, { "rate", 1, 0, 'R' }, { "chunk", 1, 0, 'c' },
		{ "retouch-s", 1, 0, 't' }, { "duration", 1, 0, 'd' },
		{ "report-ms", 1, 0, 'r' },
		{ "agent", 0, 0, 'a' }, { "agent-required", 0, 0, 'A' },
		{ "socket", 1, 0, 'S' }, { "workload", 1, 0, 'W' },
		{ "subscribe-ms", 1, 0, 'i' }, { "help", 0, 0, 'h' }, { 0 }
	};
	uint64_t size = 64 * MIB, rate = 0, chunk = MIB;
	double retouch = 0, duration = 30, report_ms = 1000;
	struct agent_opts ao = { 0 };
	int o;

	prog = "mx_batch";
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'z': size = parse_size("--size", optarg); break;
		case 'R': rate = parse_size("--rate", optarg); break;
		case 'c': chunk = parse_size("--chunk", optarg); break;
		case 't': retouch = parse_num("--retouch-s", optarg, 0, 1e7); break;
		case 'd': duration = parse_num("--duration", optarg, 0, 1e7); break;
		case 'r': report_ms = parse_num("--report-ms", optarg, 10, 3.6e6); break;
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
	chunk &= ~(PAGE - 1);
	if (chunk < PAGE)
		die("--chunk must be at least one page");
	setup_signals();

	struct mxc *c = agent_connect(&ao);
	size_t nchunks = (size + chunk - 1) / chunk, have = 0;
	char **chunks = calloc(nchunks ? nchunks : 1, sizeof(*chunks));
	uint64_t allocated = 0, passes = 0;
	double start = now_s(), last = start, last_touch = 0;
	bool done = false;

	if (!chunks)
		die("out of memory");
	out("start size=%" PRIu64 " rate=%" PRIu64 " chunk=%" PRIu64, size, rate, chunk);
	while (!stop) {
		double t = now_s();

		if (!done) {
			/* allocate what the rate allows by now */
			uint64_t allowed = rate ? (uint64_t)((t - start) * rate) + chunk : size;

			while (have < nchunks && allocated < allowed && !stop) {
				uint64_t n = size - allocated < chunk ? size - allocated : chunk;

				n = (n + PAGE - 1) & ~(PAGE - 1);
				chunks[have] = map_anon(n);
				fill_pages(chunks[have], n, have + 1);
				have++;
				allocated += n;
			}
			if (have == nchunks) {
				done = true;
				last_touch = now_s();
				out("done allocated=%" PRIu64 " alloc_s=%.2f", allocated, last_touch - start);
			}
		} else if (retouch > 0 && t - last_touch >= retouch) {
			uint64_t left = size;

			for (size_t i = 0; i < have && !stop; i++) {
				uint64_t n = left < chunk ? left : chunk;

				fill_pages(chunks[i], (n + PAGE - 1) & ~(PAGE - 1), passes + i + 2);
				left -= n;
			}
			passes++;
			last_touch = now_s();
		}
		t = now_s();
		if (t - last >= report_ms / 1000.0) {
			out("t=%.1f allocated=%" PRIu64 " passes=%" PRIu64, t - start, allocated, passes);
			last = t;
		}
		if (duration && t - start >= duration)
			break;
		/* sleep a little between steps (rate-limited or holding) */
		if (!done && !rate)
			continue;
		agent_wait(&c, 10, on_event, NULL);
	}
	out("summary allocated=%" PRIu64 " passes=%" PRIu64 " duration_s=%.1f",
	    allocated, passes, now_s() - start);
	mxc_close(c);
	return 0;
}
