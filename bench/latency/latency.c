// SPDX-License-Identifier: GPL-2.0
/*
 * latency: allocation latency of a latency-critical task sharing a memory
 * cgroup with a batch allocator that runs the cgroup into its limit.
 *
 * Run inside the cgroup under test. Two processes, both in it:
 *
 *   batch     (forked child, pinned to --batch-cpu) holds a working set of
 *             --ws-mib MiB that it re-touches every --ws-period-ms, and
 *             writes a ring of --ring-mib MiB of anonymous memory at a
 *             steady --rate MiB/s (checked every millisecond; a backlog of
 *             more than 50 ms is dropped, so a stalled batch does not burst).
 *             Before writing a ring chunk again it drops it with
 *             MADV_DONTNEED: every page written is a fresh charge, the
 *             oldest ring pages are the cold ones (swapped out to zram when
 *             the limit is below the total), and swap use stays bounded.
 *             Pages get non-zero data (one random word per cache line:
 *             zero pages never reach zram), MADV_NOHUGEPAGE everywhere.
 *             First it writes --prefill-mib of the ring as fast as it can,
 *             so that usage reaches the limit before the measurement.
 *   critical  (this process, pinned to --crit-cpu) every --period-us maps
 *             --buf-kib KiB of anonymous memory, writes one non-zero word
 *             per page and unmaps it: one page fault and one memcg charge
 *             per page. Each operation is timed with CLOCK_MONOTONIC, and
 *             so is its wake-up lateness (start minus deadline: scheduling
 *             delay, i.e. host/vCPU noise plus CPU contention).
 *
 * The measured window starts --settle-s seconds after the prefill and
 * lasts --duration-s seconds. Around it the program snapshots the cgroup's
 * memory.stat, memory.events, memory.ext.stat (memcg_ext kernels),
 * cpu.stat, memory.pressure and cpu.pressure (PSI stall totals) and
 * /proc/vmstat, and prints one JSON object on stdout: the
 * latency percentiles (exact, over the run's operations), a log-scale
 * histogram (16 linear buckets per power of two, for pooling runs), the counter
 * deltas over the window, the batch's achieved rate and major faults.
 *
 * usage: latency [--rate MIBPS] [--ring-mib N] [--ws-mib N]
 *                [--ws-period-ms N] [--prefill-mib N] [--settle-s S]
 *                [--duration-s S] [--period-us N] [--buf-kib N]
 *                [--crit-cpu N|-1] [--batch-cpu N|-1] [--cgroup DIR]
 *                [--crit-cgroup DIR] [--batch-cgroup DIR] [--label S] [--rep N]
 *
 * --cgroup is the cgroup whose counters are read (default: our own);
 * --crit-cgroup/--batch-cgroup put each process into a child cgroup of it
 * (without controllers of their own, so both still charge the parent's
 * memcg) to read each one's PSI memory stall time separately.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../lib/bench.h"

#define PAGE 4096UL
#define MIB (1024UL * 1024)
#define RING_CHUNK (256UL * 1024)	/* DONTNEED granularity of the ring */
#define BACKLOG_NS 50000000ULL		/* batch: catch up at most 50 ms */
#define MAX_KEYS 512

const char *prog = "latency";

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity(%d): %s", cpu, strerror(errno));
}

static uint64_t xs_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t xorshift(void)
{
	uint64_t x = xs_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return xs_state = x;
}

/* Non-zero data, compressible like ordinary memory: a word per cache line. */
static inline void fill_page(char *p)
{
	uint64_t *w = (uint64_t *)p;

	for (unsigned int i = 0; i < PAGE / 8; i += 8)
		w[i] = xorshift() | 1;
}

/* What the batch process reports through a shared page. */
struct shared {
	volatile int phase;		/* 0 prefill, 1 steady, 2 failed */
	volatile int stop;
	volatile uint64_t pages;	/* ring pages written */
	volatile uint64_t dropped_ns;	/* backlog given up */
	volatile uint64_t ws_passes;
};

struct opts {
	unsigned long rate, ring_mib, ws_mib, ws_period_ms, prefill_mib;
	unsigned long period_us, buf_kib;
	double settle_s, duration_s;
	int crit_cpu, batch_cpu, rep;
	const char *cgroup, *label, *crit_cg, *batch_cg;
};

/* The batch's working set: every page touched once per ws_period. */
struct wset {
	char *base;
	uint64_t pages, pos, done, t0, period_ms;
};

static void ws_touch(struct wset *w, struct shared *sh)
{
	uint64_t due;

	if (!w->pages)
		return;
	due = (now_ns() - w->t0) / 1000000ull * w->pages / w->period_ms;
	if (due > w->done + w->pages)
		w->done = due - w->pages;
	for (; w->done < due; w->done++) {
		((volatile uint64_t *)(w->base + w->pos * PAGE))[1] += 1;
		if (++w->pos == w->pages) {
			w->pos = 0;
			sh->ws_passes++;
		}
	}
}

static void batch(const struct opts *o, struct shared *sh)
{
	size_t ring_len = o->ring_mib * MIB, ws_len = o->ws_mib * MIB;
	size_t ring_pages = ring_len / PAGE;
	char *ring = map_anon(ring_len);
	struct wset w = { .pages = ws_len / PAGE, .period_ms = o->ws_period_ms };
	uint64_t pos = 0, prefill = o->prefill_mib * MIB / PAGE;
	uint64_t start, done, rate_pp = o->rate * MIB / PAGE;

	pin(o->batch_cpu);
	xs_state ^= (uint64_t)getpid() << 32;
	w.base = ws_len ? map_anon(ws_len) : NULL;
	for (size_t i = 0; i < w.pages; i++)
		fill_page(w.base + i * PAGE);
	w.t0 = now_ns();

	/* write_page: the next ring page; drop the chunk on each new lap. */
#define write_page() do {							\
		size_t i_ = pos % ring_pages;					\
		if (pos >= ring_pages && (i_ * PAGE) % RING_CHUNK == 0)		\
			madvise(ring + i_ * PAGE, RING_CHUNK, MADV_DONTNEED);	\
		fill_page(ring + i_ * PAGE);					\
		pos++;								\
	} while (0)

	/* The working set stays hot during the prefill too. */
	while (pos < prefill && !sh->stop) {
		write_page();
		if ((pos & 63) == 0)
			ws_touch(&w, sh);
	}
	sh->pages = pos;
	__atomic_store_n(&sh->phase, 1, __ATOMIC_RELEASE);

	start = now_ns();
	done = 0;	/* pages written since start */
	while (!sh->stop) {
		uint64_t t = now_ns() - start;
		uint64_t due = t * rate_pp / 1000000000ull;
		uint64_t cap = BACKLOG_NS * rate_pp / 1000000000ull;

		if (due > done + cap) {
			sh->dropped_ns += (due - done - cap) * 1000000000ull / (rate_pp ?: 1);
			done = due - cap;
		}
		while (done < due && !sh->stop) {
			write_page();
			done++;
			if ((done & 15) == 0) {
				sh->pages = pos;
				ws_touch(&w, sh);
			}
		}
		sh->pages = pos;
		ws_touch(&w, sh);
		sleep_until(now_ns() + 1000000ull);
	}
#undef write_page
}

/* Snapshot of "key value" lines of a file. */
struct kv {
	int n;
	char key[MAX_KEYS][48];
	long long val[MAX_KEYS];
};

static int read_kv(const char *path, struct kv *kv)
{
	FILE *f = fopen(path, "r");
	char line[256], k[48];
	long long v;

	kv->n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f) && kv->n < MAX_KEYS) {
		char *tot = strstr(line, "total=");

		/* PSI: "some avg10=.. avg60=.. avg300=.. total=USEC" */
		if (tot && sscanf(line, "%15s", k) == 1) {
			snprintf(k + strlen(k), sizeof(k) - strlen(k), "_total_usec");
			v = atoll(tot + 6);
		} else if (sscanf(line, "%47s %lld", k, &v) != 2) {
			continue;
		}
		snprintf(kv->key[kv->n], sizeof(kv->key[0]), "%s", k);
		kv->val[kv->n++] = v;
	}
	fclose(f);
	return 0;
}

static long long read_ll(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[64];
	long long v = -1;

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strncmp(buf, "max", 3) ? atoll(buf) : -2;
	fclose(f);
	return v;
}

static const char *const vmstat_keys[] = {
	"pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct",
	"pgscan_background", "pgsteal_background", "allocstall_normal",
	"allocstall_movable", "pswpin", "pswpout", "pgmajfault", NULL
};

static const char *const memstat_keys[] = {
	"pgscan_direct", "pgsteal_direct", "pgscan_background",
	"pgsteal_background", "pgscan_kswapd", "pgsteal_kswapd", "pgscan",
	"pgsteal", "pgmajfault", "pgfault", "pswpin", "pswpout",
	"workingset_refault_anon", "workingset_refault_file", NULL
};

/*
 * "crit." and "batch.": the same file of the child cgroup each process was
 * put in (--crit-cgroup, --batch-cgroup): PSI is tracked per cgroup, so
 * these are the stalls of that process alone.
 */
#define NR_SRC 10
static const char *const src_name[NR_SRC] = {
	"memory.stat", "memory.events", "memory.ext.stat", "cpu.stat",
	"memory.pressure", "cpu.pressure", "crit.memory.pressure",
	"crit.cpu.pressure", "batch.memory.pressure", "vmstat"
};

static void snapshot(const char *cg, const char *crit_cg, const char *batch_cg,
		     struct kv *kv)
{
	char path[700];

	for (int i = 0; i < NR_SRC; i++) {
		const char *dir = cg, *file = src_name[i];

		if (!strncmp(file, "crit.", 5)) {
			dir = crit_cg;
			file += 5;
		} else if (!strncmp(file, "batch.", 6)) {
			dir = batch_cg;
			file += 6;
		}
		kv[i].n = -1;
		if (!dir)
			continue;
		if (i == NR_SRC - 1)
			snprintf(path, sizeof(path), "/proc/vmstat");
		else
			snprintf(path, sizeof(path), "%s/%s", dir, file);
		if (read_kv(path, &kv[i]))
			kv[i].n = -1;
	}
}

static int key_wanted(int src, const char *key)
{
	const char *const *l = src == 0 ? memstat_keys : src == NR_SRC - 1 ? vmstat_keys : NULL;

	if (!l)
		return 1;
	for (; *l; l++)
		if (!strcmp(*l, key))
			return 1;
	return 0;
}

static void print_deltas(const struct kv *a, const struct kv *b)
{
	int first = 1;

	printf(",\"delta\":{");
	for (int s = 0; s < NR_SRC; s++) {
		int f = 1;

		if (b[s].n < 0 || a[s].n < 0)
			continue;
		printf("%s\"%s\":{", first ? "" : ",", src_name[s]);
		first = 0;
		for (int i = 0; i < b[s].n; i++) {
			long long v0 = 0;

			if (!key_wanted(s, b[s].key[i]))
				continue;
			for (int j = 0; j < a[s].n; j++)
				if (!strcmp(a[s].key[j], b[s].key[i])) {
					v0 = a[s].val[j];
					break;
				}
			printf("%s\"%s\":%lld", f ? "" : ",", b[s].key[i], b[s].val[i] - v0);
			f = 0;
		}
		printf("}");
	}
	printf("}");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "rate", 1, NULL, 'r' }, { "ring-mib", 1, NULL, 'R' },
		{ "ws-mib", 1, NULL, 'w' }, { "ws-period-ms", 1, NULL, 'W' },
		{ "prefill-mib", 1, NULL, 'P' }, { "settle-s", 1, NULL, 's' },
		{ "duration-s", 1, NULL, 'd' }, { "period-us", 1, NULL, 'p' },
		{ "buf-kib", 1, NULL, 'b' }, { "crit-cpu", 1, NULL, 'c' },
		{ "batch-cpu", 1, NULL, 'B' }, { "cgroup", 1, NULL, 'g' },
		{ "label", 1, NULL, 'l' }, { "rep", 1, NULL, 'n' },
		{ "crit-cgroup", 1, NULL, 'C' }, { "batch-cgroup", 1, NULL, 'G' },
		{ "help", 0, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	struct opts o = {
		.rate = 32, .ring_mib = 256, .ws_mib = 32, .ws_period_ms = 1000,
		.prefill_mib = 128, .period_us = 1000, .buf_kib = 64,
		.settle_s = 3, .duration_s = 15, .crit_cpu = 1, .batch_cpu = 0,
		.rep = 0, .cgroup = NULL, .label = "",
	};
	struct kv *k0 = calloc(NR_SRC, sizeof(struct kv)), *k1 = calloc(NR_SRC, sizeof(struct kv));
	uint64_t *lat, *late, t, deadline, end, t_start, t_end, pages0, pages1, dropped0;
	size_t n = 0, nmax, missed = 0, buf_len;
	char cgbuf[600], path[700];
	struct rusage ru0, ru1, bru;
	struct shared *sh;
	int opt, status, ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	long long cur_end, swap_end, peak;
	pid_t child;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'r': o.rate = arg_ul(optarg, "--rate"); break;
		case 'R': o.ring_mib = arg_ul(optarg, "--ring-mib"); break;
		case 'w': o.ws_mib = arg_ul(optarg, "--ws-mib"); break;
		case 'W': o.ws_period_ms = arg_ul(optarg, "--ws-period-ms"); break;
		case 'P': o.prefill_mib = arg_ul(optarg, "--prefill-mib"); break;
		case 's': o.settle_s = arg_d(optarg, "--settle-s"); break;
		case 'd': o.duration_s = arg_d(optarg, "--duration-s"); break;
		case 'p': o.period_us = arg_ul(optarg, "--period-us"); break;
		case 'b': o.buf_kib = arg_ul(optarg, "--buf-kib"); break;
		case 'c': o.crit_cpu = (int)strtol(optarg, NULL, 0); break;
		case 'B': o.batch_cpu = (int)strtol(optarg, NULL, 0); break;
		case 'g': o.cgroup = optarg; break;
		case 'C': o.crit_cg = optarg; break;
		case 'G': o.batch_cg = optarg; break;
		case 'l': o.label = optarg; break;
		case 'n': o.rep = (int)arg_ul(optarg, "--rep"); break;
		default:
			fprintf(stderr, "usage: see the comment at the top of bench/latency/latency.c\n");
			return opt != 'h' ? 2 : 0;
		}
	}
	if (!k0 || !k1)
		die("out of memory");
	if (!o.ring_mib || !o.period_us || !o.buf_kib || !o.ws_period_ms || o.duration_s <= 0)
		die("--ring-mib, --period-us, --buf-kib, --ws-period-ms, --duration-s must be > 0");
	if (o.crit_cpu >= ncpu)
		o.crit_cpu = ncpu - 1;
	if (o.batch_cpu >= ncpu)
		o.batch_cpu = ncpu - 1;
	if (!o.cgroup) {
		own_cgroup(cgbuf, sizeof(cgbuf));
		o.cgroup = cgbuf;
	}
	enter_cgroup(o.crit_cg);
	buf_len = o.buf_kib * 1024;
	buf_len = (buf_len + PAGE - 1) & ~(PAGE - 1);
	nmax = (size_t)(o.duration_s * 1e6 / o.period_us) + 16;
	lat = calloc(nmax, sizeof(*lat));
	late = calloc(nmax, sizeof(*late));
	if (!lat || !late)
		die("out of memory");
	/*
	 * Fault the sample arrays in now and lock them: they are the
	 * measuring apparatus, not the workload (the critical process's own
	 * stack and text stay reclaimable, as a real service's would).
	 */
	memset(lat, 0xff, nmax * sizeof(*lat));
	memset(late, 0xff, nmax * sizeof(*late));
	if (mlock(lat, nmax * sizeof(*lat)) || mlock(late, nmax * sizeof(*late)))
		fprintf(stderr, "%s: mlock of the sample arrays: %s\n", prog, strerror(errno));

	sh = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap shared: %s", strerror(errno));
	memset(sh, 0, sizeof(*sh));
	if (mlock(sh, PAGE))
		fprintf(stderr, "%s: mlock of the shared page: %s\n", prog, strerror(errno));
	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (!child) {
		prog = "latency(batch)";
		enter_cgroup(o.batch_cg);
		batch(&o, sh);
		_exit(0);
	}
	pin(o.crit_cpu);

	/* Prefill, then settle: reclaim reaches its steady state. */
	t = now_ns();
	while (!__atomic_load_n(&sh->phase, __ATOMIC_ACQUIRE)) {
		if (waitpid(child, &status, WNOHANG) == child)
			die("the batch process died during the prefill (status %#x)", status);
		sleep_until(now_ns() + 10000000ull);
	}
	fprintf(stderr, "%s: %s rep %d: prefill %lu MiB in %.1f s\n", prog, o.label,
		o.rep, o.prefill_mib, (now_ns() - t) / 1e9);
	sleep_until(now_ns() + (uint64_t)(o.settle_s * 1e9));

	snapshot(o.cgroup, o.crit_cg, o.batch_cg, k0);
	getrusage(RUSAGE_SELF, &ru0);
	pages0 = sh->pages;
	dropped0 = sh->dropped_ns;
	t_start = now_ns();
	end = t_start + (uint64_t)(o.duration_s * 1e9);
	deadline = t_start;
	while (n < nmax) {
		uint64_t t0, t1;
		char *p;

		sleep_until(deadline);
		t0 = now_ns();
		if (t0 >= end)
			break;
		p = mmap(NULL, buf_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap: %s", strerror(errno));
		for (size_t i = 0; i < buf_len; i += PAGE)
			*(volatile uint64_t *)(p + i) = t0 | 1;
		munmap(p, buf_len);
		t1 = now_ns();
		lat[n] = t1 - t0;
		late[n++] = t0 - deadline;
		deadline += o.period_us * 1000ull;
		/* Behind by more than a period: skip the missed deadlines. */
		if (t1 > deadline + o.period_us * 1000ull) {
			uint64_t skip = (t1 - deadline) / (o.period_us * 1000ull);

			missed += skip;
			deadline += skip * o.period_us * 1000ull;
		}
	}
	t_end = now_ns();
	pages1 = sh->pages;
	getrusage(RUSAGE_SELF, &ru1);
	snapshot(o.cgroup, o.crit_cg, o.batch_cg, k1);
	snprintf(path, sizeof(path), "%s/memory.current", o.cgroup);
	cur_end = read_ll(path);
	snprintf(path, sizeof(path), "%s/memory.swap.current", o.cgroup);
	swap_end = read_ll(path);
	snprintf(path, sizeof(path), "%s/memory.peak", o.cgroup);
	peak = read_ll(path);

	sh->stop = 1;
	if (wait4(child, &status, 0, &bru) != child)
		die("wait4: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		die("the batch process failed (status %#x)", status);

	printf("{\"label\":");
	json_str(o.label);
	printf(",\"rep\":%d,\"cgroup\":", o.rep);
	json_str(o.cgroup);
	printf(",\"rate_mibps\":%lu,\"ring_mib\":%lu,\"ws_mib\":%lu,\"ws_period_ms\":%lu,"
	       "\"prefill_mib\":%lu,\"settle_s\":%.2f,\"duration_s\":%.2f,\"period_us\":%lu,"
	       "\"buf_kib\":%lu,\"crit_cpu\":%d,\"batch_cpu\":%d",
	       o.rate, o.ring_mib, o.ws_mib, o.ws_period_ms, o.prefill_mib, o.settle_s,
	       o.duration_s, o.period_us, o.buf_kib, o.crit_cpu, o.batch_cpu);
	printf(",\"window_s\":%.3f,\"ops\":%zu,\"missed_periods\":%zu", (t_end - t_start) / 1e9,
	       n, missed);
	printf(",\"batch_mibps\":%.2f,\"batch_dropped_ms\":%.1f",
	       (double)(pages1 - pages0) * PAGE / MIB / ((t_end - t_start) / 1e9),
	       (sh->dropped_ns - dropped0) / 1e6);
	printf(",\"crit_majflt\":%ld,\"crit_minflt\":%ld,\"crit_nivcsw\":%ld",
	       ru1.ru_majflt - ru0.ru_majflt, ru1.ru_minflt - ru0.ru_minflt,
	       ru1.ru_nivcsw - ru0.ru_nivcsw);
	printf(",\"batch_majflt_total\":%ld,\"batch_cpu_s_total\":%.3f",
	       bru.ru_majflt, bru.ru_utime.tv_sec + bru.ru_stime.tv_sec +
	       (bru.ru_utime.tv_usec + bru.ru_stime.tv_usec) / 1e6);
	printf(",\"memory_current_end\":%lld,\"memory_swap_current_end\":%lld,\"memory_peak\":%lld",
	       cur_end, swap_end, peak);
	print_dist("lat", lat, n, 1);
	print_dist("lateness", late, n, 0);
	print_deltas(k0, k1);
	printf("}\n");
	return fflush(stdout) ? 1 : 0;
}
