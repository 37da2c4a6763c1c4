// SPDX-License-Identifier: GPL-2.0
/*
 * mx_hotcold: the workload of the trim benchmark (bench/trim). It holds a
 * hot set it touches continuously and a cold set it writes once at start,
 * and reports its throughput: operations per second over the hot set (one
 * operation reads and writes one word of a pseudo-randomly chosen hot page).
 * An ideal trimmer takes the whole cold set away at no throughput cost;
 * taking hot pages shows up as major faults and lost throughput.
 *
 * Host noise: in a TCG VM on a busy host the speed of the workload varies
 * by tens of percent from second to second (CPU share, and the host's
 * caches, which the emulated TLB refills of random page accesses depend
 * on). So every batch of hot-set operations is followed by the same batch
 * run by a reference process on a reference set of the same size, pinned
 * to the same CPU, in another cgroup (--ref-cgroup, e.g. the root one
 * in the VM: never limited, never reclaimed, so its accesses never fault). ops_norm = (hot ops per second spent on hot
 * batches) / (reference ops per second spent on reference batches) is
 * what the workload's memory costs it, independent of the host's noise
 * (--no-calibrate: no reference, ops_norm 0).
 *
 * Every --report-ms it prints
 *   mx_hotcold: t=<s> ops_per_s=<n> ops_norm=<f> ref_per_s=<n> mem_current=<bytes>
 *               swap_current=<bytes> mem_high=<bytes|max>
 * (the cgroup values of its own memory cgroup, -1 if unreadable), writes
 * "ops_per_s <n>" and "ops_norm <f>" to --metric-file and, with --agent,
 * sends METRIC name=ops_per_s and name=ops_norm. At the end:
 *   mx_hotcold: summary ops_per_s=<all> window_ops_per_s=<from --window-from>
 *               window_ops_norm=<f> window_mem_current=<mean>
 *               window_swap_current=<mean> ...
 * Data is non-zero (zero pages never reach zram in 6.12) and about 2:1
 * compressible.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgstat.h"

#define BATCH 2048
#include "common.h"

static void usage(void)
{
	fprintf(stderr,
"usage: mx_hotcold [options]\n"
"  --hot SIZE          hot set, touched continuously (default 16M)\n"
"  --cold SIZE         cold set, written once at start (default 48M)\n"
"  --duration S        seconds to run after the sets are written (default 30; 0 = until SIGTERM)\n"
"  --window-from S     the summary's window starts S seconds in (default: half the duration)\n"
"  --report-ms MS      report interval (default 1000)\n"
"  --metric-file PATH  write \"ops_per_s <n>\" there every report\n"
"  --seed N            pseudo-random seed (default 1)\n"
"  --no-calibrate      no reference process (ops_norm is then 0)\n"
"  --ref-cgroup DIR    move the reference process to cgroup DIR (default: it stays in the\n"
"                      workload's cgroup, where its memory is charged and trimmed too)\n"
"  --cpu N             CPU for the workload and its reference (default: the last; -1: no pinning)\n"
"  --agent             connect to the memcg_ext agent (retried every report until it\n"
"                      answers), SUBSCRIBE, send METRIC ops_per_s\n"
"  --agent-required    exit 3 when the agent cannot be reached\n"
"  --socket PATH       agent socket (default $MEMCG_EXT_AGENT_SOCK or /run/memcg_ext/agent.sock)\n"
"  --workload NAME     workload name to give in HELLO\n"
"  --subscribe-ms MS   SUBSCRIBE interval_ms\n");
	exit(2);
}

/* The hot-set operation: read and write one word of a pseudo-random page. */
static uint64_t run_batch(char *set, uint64_t pages, uint64_t *rng)
{
	uint64_t sum = 0;

	for (int i = 0; i < BATCH; i++) {
		uint64_t r = xorshift64(rng);
		uint64_t *w = (uint64_t *)(set + (r % pages) * PAGE + ((r >> 40) & (PAGE / 8 - 1)) * 8);

		*w += 1;	/* the page stays non-zero: the word was non-zero */
		sum += *w;
	}
	return sum;
}

static int ref_go = -1, ref_done = -1;

/*
 * The reference process: in the root cgroup, same CPU, its own set of the
 * hot set's size; runs one batch per byte on ref_go, answers with the
 * nanoseconds it took on ref_done. Exits when the workload goes away.
 */
static void ref_start(uint64_t size, uint64_t seed, const char *ref_cg)
{
	int go[2], done[2];
	pid_t pid;

	if (pipe(go) || pipe(done))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid > 0) {
		close(go[0]);
		close(done[1]);
		ref_go = go[1];
		ref_done = done[0];
		return;
	}
	close(go[1]);
	close(done[0]);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	if (ref_cg) {
		char path[4200];
		FILE *f;

		snprintf(path, sizeof(path), "%s/cgroup.procs", ref_cg);
		f = fopen(path, "w");
		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f))
			die("cannot move the reference process to %s", ref_cg);
	}
	char *set = map_anon(size);
	uint64_t rng = seed * 0x2545f4914f6cdd1dULL + 1, sink = 0;
	char b;

	fill_pages(set, size, seed * 13 + 5);
	for (;;) {
		ssize_t n = read(go[0], &b, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(sink == 42);
		uint64_t t = now_ns();

		sink += run_batch(set, size / PAGE, &rng);
		t = now_ns() - t;
		if (write(done[1], &t, sizeof(t)) != sizeof(t))
			_exit(1);
	}
}

/* One reference batch: seconds it took. */
static double ref_batch(void)
{
	uint64_t ns;
	char b = 1;

	if (write(ref_go, &b, 1) != 1 || read(ref_done, &ns, sizeof(ns)) != sizeof(ns))
		die("the reference process is gone");
	return ns / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "hot", 1, 0, 'H' }, { "cold", 1, 0, 'C' }, { "duration", 1, 0, 'd' },
		{ "window-from", 1, 0, 'w' }, { "report-ms", 1, 0, 'r' },
		{ "metric-file", 1, 0, 'm' }, { "seed", 1, 0, 's' },
		{ "agent", 0, 0, 'a' }, { "agent-required", 0, 0, 'A' },
		{ "socket", 1, 0, 'S' }, { "workload", 1, 0, 'W' },
		{ "subscribe-ms", 1, 0, 'i' }, { "no-calibrate", 0, 0, 'n' }, { "cpu", 1, 0, 'c' },
		{ "ref-cgroup", 1, 0, 'g' },
		{ "help", 0, 0, 'h' }, { 0 }
	};
	bool calibrate = true;
	int cpu = -2;
	const char *ref_cg = NULL;
	uint64_t hot = 16 * MIB, cold = 48 * MIB, seed = 1;
	double duration = 30, wfrom = -1, report_ms = 1000;
	const char *metric_file = NULL;
	struct agent_opts ao = { 0 };
	char cgdir[4096] = "";
	int o;

	prog = "mx_hotcold";
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'H': hot = parse_size("--hot", optarg); break;
		case 'C': cold = parse_size("--cold", optarg); break;
		case 'd': duration = parse_num("--duration", optarg, 0, 1e7); break;
		case 'w': wfrom = parse_num("--window-from", optarg, 0, 1e7); break;
		case 'r': report_ms = parse_num("--report-ms", optarg, 10, 3.6e6); break;
		case 'm': metric_file = optarg; break;
		case 's': seed = (uint64_t)parse_num("--seed", optarg, 0, 1e18); break;
		case 'n': calibrate = false; break;
		case 'g': ref_cg = optarg; break;
		case 'c': cpu = (int)parse_num("--cpu", optarg, -1, 4095); break;
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
	cold &= ~(PAGE - 1);
	if (hot < PAGE)
		die("--hot must be at least one page");
	if (wfrom < 0)
		wfrom = duration / 2;
	if (duration && wfrom >= duration)
		die("--window-from %g must be below --duration %g", wfrom, duration);
	setup_signals();
	if (cg_self_dir(cgdir, sizeof(cgdir)))
		cgdir[0] = 0;

	if (cpu == -2)
		cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			out("warning: cannot pin to cpu %d: %s", cpu, strerror(errno));
	}
	if (calibrate)
		ref_start(hot, seed, ref_cg);

	struct mxc *c = agent_connect(&ao);
	double t0 = now_s();
	char *h = map_anon(hot), *cd = map_anon(cold);

	fill_pages(cd, cold, seed * 7 + 3);
	fill_pages(h, hot, seed * 13 + 5);
	out("ready hot=%" PRIu64 " cold=%" PRIu64 " fill_s=%.2f cgroup=%s pid=%d cpu=%d reference=%s",
	    hot, cold, now_s() - t0, cgdir[0] ? cgdir : "?", (int)getpid(), cpu,
	    !calibrate ? "none" : ref_cg ? ref_cg : "same-cgroup");

	uint64_t rng = seed * 0x2545f4914f6cdd1dULL + 1, pages = hot / PAGE;
	uint64_t ops = 0, last_ops = 0, wops = 0, rops = 0, last_rops = 0, wrops = 0;
	double start = now_s(), last = start, wstart = -1;
	double hot_t = 0, ref_t = 0, last_hot_t = 0, last_ref_t = 0, whot_t = 0, wref_t = 0;
	double wmem = 0, wswap = 0;
	unsigned long wsamples = 0;
	volatile uint64_t sink = 0;

	while (!stop) {
		double t1 = now_s();

		sink += run_batch(h, pages, &rng);
		double t = now_s();

		hot_t += t - t1;
		ops += BATCH;
		if (calibrate) {
			ref_t += ref_batch();
			rops += BATCH;
			t = now_s();
		}
		if (t - last < report_ms / 1000.0)
			continue;
		double rate = (ops - last_ops) / (t - last);
		double hot_rate = (ops - last_ops) / (hot_t - last_hot_t);
		double ref_rate = calibrate ? (rops - last_rops) / (ref_t - last_ref_t) : 0;
		double norm = calibrate ? hot_rate / ref_rate : 0;
		int64_t cur = cgdir[0] ? cg_read_num(cgdir, "memory.current") : -1;
		int64_t sw = cgdir[0] ? cg_read_num(cgdir, "memory.swap.current") : -1;
		int64_t hi = cgdir[0] ? cg_read_num(cgdir, "memory.high") : -1;
		char his[32];

		if (hi == -2)
			snprintf(his, sizeof(his), "max");
		else
			snprintf(his, sizeof(his), "%" PRId64, hi);
		out("t=%.1f ops_per_s=%.0f ops_norm=%.5f ref_per_s=%.0f mem_current=%" PRId64
		    " swap_current=%" PRId64 " mem_high=%s",
		    t - start, rate, norm, ref_rate, cur, sw, his);
		if (t - start >= wfrom) {
			if (wstart < 0)
				wstart = last;	/* this report's interval is the first */
			wops += ops - last_ops;
			wrops += rops - last_rops;
			whot_t += hot_t - last_hot_t;
			wref_t += ref_t - last_ref_t;
			wmem += cur;
			wswap += sw;
			wsamples++;
		}
		if (metric_file) {
			char txt[96];

			snprintf(txt, sizeof(txt), "ops_per_s %.0f\nops_norm %.5f\n", rate, norm);
			write_file_atomic(metric_file, txt);
		}
		if (!c && ao.enabled && !ao.required) {
			/* the agent may start after us: try again every report */
			c = mxc_open_timeout(ao.sock, ao.workload, 200);
			if (c) {
				out("agent: connected workload=%s cgroup=%s", mxc_workload(c), mxc_cgroup(c));
				mxc_subscribe(c, ao.interval_ms);
			}
		}
		if (c) {
			mxc_report_metric(c, "ops_per_s", rate);
			if (calibrate)
				mxc_report_metric(c, "ops_norm", norm);
		}
		last = t;
		last_ops = ops;
		last_rops = rops;
		last_hot_t = hot_t;
		last_ref_t = ref_t;
		if (c)
			agent_wait(&c, 0, NULL, NULL);
		if (duration && t - start >= duration)
			break;
	}
	double end = now_s();
	double wnorm = (calibrate && wrops && whot_t > 0 && wref_t > 0) ?
		(wops / whot_t) / (wrops / wref_t) : 0;

	out("summary duration_s=%.1f ops=%" PRIu64 " ops_per_s=%.0f window_from_s=%.1f "
	    "window_ops_per_s=%.0f window_ops_norm=%.5f window_mem_current=%.0f "
	    "window_swap_current=%.0f samples=%lu%s",
	    end - start, ops, ops / (end - start), wstart < 0 ? -1 : wstart - start,
	    wstart < 0 ? 0 : wops / (last - wstart), wnorm, wsamples ? wmem / wsamples : -1,
	    wsamples ? wswap / wsamples : -1, wsamples, sink == 42 ? " " : "");
	mxc_close(c);
	return 0;
}
