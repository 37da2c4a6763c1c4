// SPDX-License-Identifier: GPL-2.0
/*
 * mx_leaker: grows without bound at --rate bytes per second (in --chunk
 * pieces, every page written with non-zero data), up to --max if given.
 * With --agent it subscribes and, on SHED, gives back --honour times the
 * bytes asked (0: ignores the request, 1: honours it fully) from its newest
 * memory, then answers FREED with what it gave (--no-answer: never answers).
 *
 *   mx_leaker: t=<s> leaked=<bytes> freed=<bytes>      every --report-ms
 *   mx_leaker: shed id=<n> asked=<bytes> freed=<bytes>  per SHED
 *   mx_leaker: summary leaked=<bytes> freed=<bytes> sheds=<n> kill_notices=<n>
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "common.h"

static void usage(void)
{
	fprintf(stderr,
"usage: mx_leaker [options]\n"
"  --rate SIZE         growth per second (default 1M)\n"
"  --chunk SIZE        allocation unit (default 256k)\n"
"  --max SIZE          stop growing there (default 0 = never)\n"
"  --honour F          fraction of each SHED request to give back, 0..1 (default 0)\n"
"  --no-answer         never answer SHED with FREED\n"
"  --duration S        seconds to run (default 0 = until SIGTERM or killed)\n"
"  --report-ms MS      report interval (default 1000)\n"
"  --agent, --agent-required, --socket PATH, --workload NAME, --subscribe-ms MS\n");
	exit(2);
}

struct leak {
	char **chunks;
	size_t have, cap;
	uint64_t chunk, leaked, freed, sheds, notices;
	double honour;
	bool answer;
};

static void on_event(struct mxc *c, const struct mxc_event *ev, void *arg)
{
	struct leak *l = arg;

	if (ev->type == MXC_EV_KILL_NOTICE) {
		l->notices++;
		return;
	}
	if (ev->type != MXC_EV_SHED)
		return;
	uint64_t want = (uint64_t)(ev->shed.bytes * l->honour), give = 0;

	while (give < want && l->have > 0) {
		munmap(l->chunks[--l->have], l->chunk);
		give += l->chunk;
	}
	l->leaked -= give;
	l->freed += give;
	l->sheds++;
	if (l->answer)
		mxc_freed(c, ev->shed.id, give);
	out("shed id=%" PRIu64 " asked=%" PRIu64 " freed=%" PRIu64 "%s", ev->shed.id,
	    ev->shed.bytes, give, l->answer ? "" : " (not answered)");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "rate", 1, 0, 'R' }, { "chunk", 1, 0, 'c' }, { "max", 1, 0, 'M' },
		{ "honour", 1, 0, 'o' }, { "honor", 1, 0, 'o' }, { "no-answer", 0, 0, 'n' },
		{ "duration", 1, 0, 'd' }, { "report-ms", 1, 0, 'r' },
		{ "agent", 0, 0, 'a' }, { "agent-required", 0, 0, 'A' },
		{ "socket", 1, 0, 'S' }, { "workload", 1, 0, 'W' },
		{ "subscribe-ms", 1, 0, 'i' }, { "help", 0, 0, 'h' }, { 0 }
	};
	uint64_t rate = MIB, max = 0;
	double duration = 0, report_ms = 1000;
	struct agent_opts ao = { 0 };
	struct leak l = { .chunk = 256 * 1024, .answer = true };
	int o;

	prog = "mx_leaker";
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'R': rate = parse_size("--rate", optarg); break;
		case 'c': l.chunk = parse_size("--chunk", optarg); break;
		case 'M': max = parse_size("--max", optarg); break;
		case 'o': l.honour = parse_num("--honour", optarg, 0, 1); break;
		case 'n': l.answer = false; break;
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
	l.chunk &= ~(PAGE - 1);
	if (l.chunk < PAGE)
		die("--chunk must be at least one page");
	if (!rate)
		die("--rate must be above 0");
	setup_signals();

	struct mxc *c = agent_connect(&ao);
	double start = now_s(), last = start;
	uint64_t target = 0;

	out("start rate=%" PRIu64 " chunk=%" PRIu64 " max=%" PRIu64 " honour=%.2f answer=%s",
	    rate, l.chunk, max, l.honour, l.answer ? "yes" : "no");
	while (!stop) {
		double t = now_s();

		/* it keeps growing at the rate from whatever it gave back */
		target = (uint64_t)((t - start) * rate);
		target = target > l.freed ? target - l.freed : 0;
		if (max && target > max)
			target = max;
		while (l.leaked + l.chunk <= target && !stop) {
			if (max && l.leaked + l.chunk > max)
				break;
			if (l.have == l.cap) {
				l.cap = l.cap ? 2 * l.cap : 256;
				l.chunks = realloc(l.chunks, l.cap * sizeof(*l.chunks));
				if (!l.chunks)
					die("out of memory");
			}
			l.chunks[l.have] = map_anon(l.chunk);
			fill_pages(l.chunks[l.have], l.chunk, l.have + 1);
			l.have++;
			l.leaked += l.chunk;
		}
		if (t - last >= report_ms / 1000.0) {
			out("t=%.1f leaked=%" PRIu64 " freed=%" PRIu64, t - start, l.leaked, l.freed);
			last = t;
		}
		if (duration && t - start >= duration)
			break;
		agent_wait(&c, 20, on_event, &l);
	}
	out("summary leaked=%" PRIu64 " freed=%" PRIu64 " sheds=%" PRIu64 " kill_notices=%" PRIu64,
	    l.leaked, l.freed, l.sheds, l.notices);
	mxc_close(c);
	return 0;
}
