// SPDX-License-Identifier: GPL-2.0
/*
 * inversion: priority inversion through memory reclaim (benchmark P2).
 *
 * A low-priority task that is at its cgroup's memory limit holds a lock
 * that a high-priority task needs. If the low task has to reclaim memory
 * while it holds the lock, the high task waits for that reclaim too.
 *
 *   inversion pthread [options]   (run inside the limited cgroup)
 *
 *     One process. A ballast of --ballast-mib MiB of anonymous memory,
 *     written once and mlocked (resident, unevictable), and a ring of
 *     --ring-mib MiB written once (the prefill) put the cgroup at its limit;
 *     only the ring (swapped to zram) and whatever is allocated next can be
 *     reclaimed. The low thread repeatedly takes a pthread mutex and, while
 *     holding it, touches --hold-min-kib..--hold-max-kib KiB of fresh
 *     anonymous memory (one page fault and one charge per page; random sizes,
 *     the same sequence in every run); after the unlock it drops the buffer
 *     (MADV_DONTNEED) and, with --refill, writes as many fresh ring pages
 *     (each 256 KiB ring chunk is dropped before it is written again), so the
 *     cgroup is back at its limit and every page of the next hold needs
 *     reclaim; then it sleeps --gap-us. Optionally (--churn-rate MIBPS,
 *     without --refill) a churn thread writes the ring at a steady rate
 *     instead. The high thread takes the same mutex every --period-us and
 *     records how long it waited (CLOCK_MONOTONIC). With --mx the low thread
 *     locks with the client library's mx_mutex_lock()/mx_mutex_unlock() (its
 *     thread word says "inside a critical section") and both threads
 *     register their words with the memcg_ext_prio loader
 *     (mx_thread_register(NULL)); the high thread is MX_CLASS_NEVER, the low
 *     thread MX_CLASS_NORMAL.
 *
 *   inversion fs --low-cgroup DIR --high-cgroup DIR --dir MNT [options]
 *
 *     Run outside both cgroups (the driver). A low process in --low-cgroup
 *     (limited) holds the same ballast and ring, a churn thread writes the
 *     ring at --churn-rate MiB/s (if > 0), and its main thread
 *     does metadata-heavy work on the ext4 file system at MNT: mkdir of a
 *     new directory, then --fs-files small files (--fs-file-min..max bytes)
 *     created and written in it, again and again. Its charges for new
 *     inodes and directory blocks happen inside jbd2 handles, and at the
 *     limit so does their reclaim. A high process in --high-cgroup (no
 *     limit) creates a file, writes --high-file-kib KiB, fsyncs and closes
 *     it every --fs-period-us and records the latency of the whole operation
 *     and of the fsync: the fsync commits the running transaction, which
 *     waits until every open handle (the low process's too) is closed.
 *
 * Both: the measured window starts --settle-s after the prefill (ballast
 * and ring written once) and lasts --duration-s. During it the driver reads
 * the limited cgroup's memory.current every --sample-ms and counts samples
 * above memory.max + memory.ext.overdraft (when memory.max is set); at the
 * end it reads memory.peak. It prints one JSON object on stdout: latency
 * percentiles (exact, nearest rank) and log-scale histograms, the limited
 * cgroup's memory.stat / memory.events / memory.ext.stat deltas over the
 * window and memory.ext.stat at the end, the usage samples, and the work
 * done by the low side.
 *
 * Common options: --cgroup DIR (pthread: the cgroup whose counters are read;
 * default our own) --label S --rep N --settle-s S --duration-s S
 * --ballast-mib N --ring-mib N --churn-rate MIBPS
 * --sample-ms N --low-cpu N --high-cpu N --churn-cpu N (-1: not pinned).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../lib/bench.h"

#include "memcg_ext/thread.h"

#define PAGE 4096UL
#define KIB 1024UL
#define MIB (1024UL * 1024)
#define RING_CHUNK (256UL * 1024)	/* DONTNEED granularity of the ring */
#define BACKLOG_NS 50000000ULL		/* churn: catch up at most 50 ms */
#define MAX_KEYS 256

const char *prog = "inversion";

static void pin(int cpu)
{
	cpu_set_t set;
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);

	if (cpu < 0)
		return;
	if (cpu >= ncpu)
		cpu = ncpu - 1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* Per thread: sched_setaffinity(0) acts on the calling thread. */
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity(%d): %s", cpu, strerror(errno));
}

static void *map_shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap shared %zu: %s", len, strerror(errno));
	/* The measuring apparatus, not the workload: fault in and lock. */
	memset(p, 0, len);
	if (mlock(p, len))
		fprintf(stderr, "%s: mlock %zu: %s\n", prog, len, strerror(errno));
	return p;
}

static inline uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Non-zero data, compressible like ordinary memory: a word per cache line. */
static inline void fill_page(char *p, uint64_t *s)
{
	uint64_t *w = (uint64_t *)p;

	for (unsigned int i = 0; i < PAGE / 8; i += 8)
		w[i] = xorshift(s) | 1;
}

struct opts {
	const char *mode, *cgroup, *low_cg, *high_cg, *dir, *label;
	int rep, mx, refill, low_cpu, high_cpu, churn_cpu;
	double settle_s, duration_s;
	unsigned long ballast_mib, ring_mib, churn_rate;
	unsigned long hold_min_kib, hold_max_kib, gap_us, period_us;
	unsigned long fs_period_us, fs_files, fs_file_min, fs_file_max, fs_gap_us;
	unsigned long high_file_kib, sample_ms;
};

/* State shared between threads and (fs) processes, in a MAP_SHARED page. */
struct shared {
	volatile int phase;		/* 0 prefill, 1 steady */
	volatile int stop;
	volatile int recording;		/* inside the measured window */
	volatile uint64_t ring_pages;	/* ring pages written */
	volatile uint64_t refill_pages;
	volatile uint64_t churn_dropped_ns;
	/* pthread: low thread holds in the window */
	volatile uint64_t holds, holds_total;
	volatile uint64_t hold_bytes;
	/* fs: low process work in the window */
	volatile uint64_t dirs, files, fs_errors, fs_bytes;
	volatile int fs_errno;
	volatile int reg_err;		/* --mx registration failed */
	char reg_msg[256];
};

/* ---- memory load: ballast + churn ring ---------------------------------- */

struct load {
	char *ballast, *ring;
	size_t ballast_pages, ring_pages;
	uint64_t pos, seed;
	const struct opts *o;
	struct shared *sh;
};

static void ring_write(struct load *l)
{
	size_t i = l->pos % l->ring_pages;

	if (l->pos >= l->ring_pages && (i * PAGE) % RING_CHUNK == 0)
		madvise(l->ring + i * PAGE, RING_CHUNK, MADV_DONTNEED);
	fill_page(l->ring + i * PAGE, &l->seed);
	l->pos++;
}

static void load_prefill(struct load *l, const struct opts *o, struct shared *sh)
{
	memset(l, 0, sizeof(*l));
	l->o = o;
	l->sh = sh;
	l->seed = 0x9e3779b97f4a7c15ull ^ ((uint64_t)getpid() << 32);
	l->ballast_pages = o->ballast_mib * MIB / PAGE;
	l->ring_pages = o->ring_mib * MIB / PAGE;
	if (l->ballast_pages) {
		l->ballast = map_anon(l->ballast_pages * PAGE);
		for (size_t i = 0; i < l->ballast_pages; i++)
			fill_page(l->ballast + i * PAGE, &l->seed);
		/* Resident for good: reclaim has to come from the rest. */
		if (mlock(l->ballast, l->ballast_pages * PAGE))
			die("mlock of the %lu MiB ballast: %s", o->ballast_mib, strerror(errno));
	}
	if (l->ring_pages) {
		l->ring = map_anon(l->ring_pages * PAGE);
		while (l->pos < l->ring_pages)
			ring_write(l);
	}
	sh->ring_pages = l->pos;
}

static void *churn_thread(void *arg)
{
	struct load *l = arg;
	struct shared *sh = l->sh;
	uint64_t rate_pp = l->o->churn_rate * MIB / PAGE, start = now_ns(), done = 0;

	pin(l->o->churn_cpu);
	while (!sh->stop) {
		uint64_t due = (now_ns() - start) * rate_pp / 1000000000ull;
		uint64_t cap = BACKLOG_NS * rate_pp / 1000000000ull;

		if (l->ring_pages && rate_pp) {
			if (due > done + cap) {
				sh->churn_dropped_ns += (due - done - cap) * 1000000000ull / rate_pp;
				done = due - cap;
			}
			while (done < due && !sh->stop) {
				ring_write(l);
				done++;
				if ((done & 15) == 0)
					sh->ring_pages = l->pos;
			}
		}
		sh->ring_pages = l->pos;
		sleep_until(now_ns() + 1000000ull);
	}
	return NULL;
}

/* ---- cgroup files -------------------------------------------------------- */

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

	kv->n = -1;
	if (!f)
		return -1;
	kv->n = 0;
	while (fgets(line, sizeof(line), f) && kv->n < MAX_KEYS) {
		char *tot = strstr(line, "total=");

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

/* First number of a cgroup file; -2 for "max", -1 if unreadable. */
static long long read_ll(const char *dir, const char *file)
{
	char path[700], buf[64];
	long long v = -1;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		v = strncmp(buf, "max", 3) ? atoll(buf) : -2;
	}
	return v;
}

static const char *const memstat_keys[] = {
	"anon", "file", "kernel", "slab", "file_dirty", "file_writeback",
	"pgscan_direct", "pgsteal_direct", "pgscan_background",
	"pgsteal_background", "pgscan_kswapd", "pgscan", "pgsteal", "pgmajfault",
	"pgfault", "pswpin", "pswpout", "workingset_refault_anon",
	"workingset_refault_file", NULL
};

#define NR_SRC 5
static const char *const src_name[NR_SRC] = {
	"memory.stat", "memory.events", "memory.ext.stat", "cpu.stat", "memory.pressure"
};

static void snapshot(const char *cg, struct kv *kv)
{
	char path[700];

	for (int i = 0; i < NR_SRC; i++) {
		snprintf(path, sizeof(path), "%s/%s", cg, src_name[i]);
		read_kv(path, &kv[i]);
	}
}

static int key_wanted(int src, const char *key)
{
	if (src != 0)
		return 1;
	for (const char *const *l = memstat_keys; *l; l++)
		if (!strcmp(*l, key))
			return 1;
	return 0;
}

static void print_kv(const char *name, const struct kv *kv)
{
	printf(",\"%s\":", name);
	if (kv->n < 0) {
		printf("null");
		return;
	}
	printf("{");
	for (int i = 0; i < kv->n; i++)
		printf("%s\"%s\":%lld", i ? "," : "", kv->key[i], kv->val[i]);
	printf("}");
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

/* ---- usage sampling (the driver, during the window) ---------------------- */

struct usage {
	long long max_bytes, overdraft, limit;	/* limit: max + overdraft, -1 none */
	uint64_t samples, over, cur_max;
	long long peak;
};

static void usage_init(struct usage *u, const char *cg)
{
	memset(u, 0, sizeof(*u));
	u->max_bytes = read_ll(cg, "memory.max");
	u->overdraft = read_ll(cg, "memory.ext.overdraft");
	u->limit = -1;
	if (u->max_bytes >= 0 && u->overdraft != -2)
		u->limit = u->max_bytes + (u->overdraft > 0 ? u->overdraft : 0);
}

static void usage_sample(struct usage *u, const char *cg)
{
	long long c = read_ll(cg, "memory.current");

	if (c < 0)
		return;
	u->samples++;
	if ((uint64_t)c > u->cur_max)
		u->cur_max = (uint64_t)c;
	if (u->limit >= 0 && c > u->limit)
		u->over++;
}

/* Sample until @end (absolute ns) every sample_ms. */
static void usage_window(struct usage *u, const char *cg, uint64_t end, unsigned long ms)
{
	for (uint64_t t = now_ns(); t < end; t = now_ns()) {
		usage_sample(u, cg);
		sleep_until(t + ms * 1000000ull < end ? t + ms * 1000000ull : end);
	}
}

static void print_usage(const struct usage *u, const char *cg, const struct kv *ext_end)
{
	long long peak = read_ll(cg, "memory.peak");

	printf(",\"memory_max\":%lld,\"overdraft\":%lld,\"cap_limit\":%lld,"
	       "\"current_samples\":%llu,\"current_over_cap\":%llu,\"current_max\":%llu,"
	       "\"memory_peak\":%lld,\"peak_over_cap\":%s",
	       u->max_bytes, u->overdraft, u->limit, (unsigned long long)u->samples,
	       (unsigned long long)u->over, (unsigned long long)u->cur_max, peak,
	       u->limit >= 0 && peak > u->limit ? "true" : "false");
	print_kv("ext_stat_end", ext_end);
}

static void print_common(const struct opts *o, const char *cg)
{
	printf("{\"mode\":");
	json_str(o->mode);
	printf(",\"label\":");
	json_str(o->label);
	printf(",\"rep\":%d,\"cgroup\":", o->rep);
	json_str(cg);
	printf(",\"mx\":%s,\"settle_s\":%.2f,\"duration_s\":%.2f,\"ballast_mib\":%lu,"
	       "\"ring_mib\":%lu,\"churn_rate_mibps\":%lu,\"refill\":%s,\"sample_ms\":%lu",
	       o->mx ? "true" : "false", o->settle_s, o->duration_s, o->ballast_mib, o->ring_mib,
	       o->churn_rate, o->refill ? "true" : "false", o->sample_ms);
}

/* ---- pthread variant ----------------------------------------------------- */

struct pt {
	const struct opts *o;
	struct load *l;
	struct shared *sh;
	pthread_mutex_t m;
	uint64_t *wait, *late, *hold;
	size_t nwait, nhold, nmax_wait, nmax_hold, missed;
};

static void mx_register(struct shared *sh, enum mx_thread_class cl, const char *who)
{
	int r;

	mx_thread_set_class(cl);
	r = mx_thread_register(NULL);
	if (r) {
		snprintf(sh->reg_msg, sizeof(sh->reg_msg), "%s: mx_thread_register: %s (%s)",
			 who, strerror(-r), mx_thread_error());
		sh->reg_err = r;
	}
}

static void *low_thread(void *arg)
{
	struct pt *p = arg;
	const struct opts *o = p->o;
	struct shared *sh = p->sh;
	size_t maxlen = o->hold_max_kib * KIB;
	size_t minp = o->hold_min_kib * KIB / PAGE, maxp = maxlen / PAGE;
	char *buf = map_anon(maxlen);
	uint64_t seed = 0x2545f4914f6cdd1dull;	/* same sizes in every run */

	pin(o->low_cpu);
	if (o->mx)
		mx_register(sh, MX_CLASS_NORMAL, "low");
	while (!sh->stop) {
		size_t np = minp + (maxp > minp ? xorshift(&seed) % (maxp - minp + 1) : 0);
		uint64_t t0, t1;

		if (o->mx)
			mx_mutex_lock(&p->m);
		else
			pthread_mutex_lock(&p->m);
		t0 = now_ns();
		for (size_t i = 0; i < np; i++)
			*(volatile uint64_t *)(buf + i * PAGE) = t0 | 1;
		t1 = now_ns();
		if (o->mx)
			mx_mutex_unlock(&p->m);
		else
			pthread_mutex_unlock(&p->m);
		sh->holds_total++;
		if (sh->recording) {
			if (p->nhold < p->nmax_hold)
				p->hold[p->nhold++] = t1 - t0;
			sh->holds++;
			sh->hold_bytes += np * PAGE;
		}
		madvise(buf, np * PAGE, MADV_DONTNEED);
		/* Back to the limit: the next hold's pages need reclaim again. */
		if (o->refill) {
			for (size_t i = 0; i < np; i++)
				ring_write(p->l);
			sh->ring_pages = p->l->pos;
			if (sh->recording)
				sh->refill_pages += np;
		}
		if (o->gap_us)
			sleep_until(now_ns() + o->gap_us * 1000ull);
	}
	if (o->mx)
		mx_thread_unregister(NULL);
	return NULL;
}

static void *high_thread(void *arg)
{
	struct pt *p = arg;
	const struct opts *o = p->o;
	struct shared *sh = p->sh;
	uint64_t period = o->period_us * 1000ull, deadline;

	pin(o->high_cpu);
	if (o->mx)
		mx_register(sh, MX_CLASS_NEVER, "high");
	deadline = now_ns();
	while (!sh->stop) {
		uint64_t t0, t1;

		sleep_until(deadline);
		t0 = now_ns();
		pthread_mutex_lock(&p->m);
		t1 = now_ns();
		pthread_mutex_unlock(&p->m);
		if (sh->recording && p->nwait < p->nmax_wait) {
			p->wait[p->nwait] = t1 - t0;
			p->late[p->nwait++] = t0 > deadline ? t0 - deadline : 0;
		}
		deadline += period;
		if (t1 > deadline + period) {
			uint64_t skip = (t1 - deadline) / period;

			if (sh->recording)
				p->missed += skip;
			deadline += skip * period;
		}
	}
	if (o->mx)
		mx_thread_unregister(NULL);
	return NULL;
}

static uint64_t *samples(size_t n)
{
	uint64_t *v = calloc(n, sizeof(*v));

	if (!v)
		die("out of memory");
	/* Fault in and lock: the apparatus, not the workload. */
	memset(v, 0xff, n * sizeof(*v));
	if (mlock(v, n * sizeof(*v)))
		fprintf(stderr, "%s: mlock of the sample array: %s\n", prog, strerror(errno));
	return v;
}

static int run_pthread(const struct opts *o)
{
	struct kv *k0 = calloc(NR_SRC, sizeof(struct kv)), *k1 = calloc(NR_SRC, sizeof(struct kv));
	struct kv *kend = calloc(1, sizeof(struct kv));
	struct shared *sh = map_shared(PAGE);
	pthread_t tc, tl, th;
	struct load l;
	struct pt p = { .o = o, .sh = sh, .l = &l };
	struct usage u;
	uint64_t t, t_start, t_end, ring0, ring1;
	char path[700];
	pthread_mutexattr_t ma;

	if (!k0 || !k1 || !kend)
		die("out of memory");
	p.nmax_wait = (size_t)(o->duration_s * 1e6 / o->period_us) + 16;
	p.nmax_hold = (size_t)(o->duration_s * 1e6 / (o->gap_us ? o->gap_us : 100)) + 16;
	if (p.nmax_hold > 1000000)
		p.nmax_hold = 1000000;
	p.wait = samples(p.nmax_wait);
	p.late = samples(p.nmax_wait);
	p.hold = samples(p.nmax_hold);
	pthread_mutexattr_init(&ma);
	pthread_mutex_init(&p.m, &ma);

	t = now_ns();
	pin(o->churn_cpu);
	load_prefill(&l, o, sh);
	fprintf(stderr, "%s: pthread %s rep %d: prefill %lu+%lu MiB in %.1f s\n", prog, o->label,
		o->rep, o->ballast_mib, o->ring_mib, (now_ns() - t) / 1e9);
	sh->phase = 1;
	if ((o->churn_rate && pthread_create(&tc, NULL, churn_thread, &l)) ||
	    pthread_create(&tl, NULL, low_thread, &p) ||
	    pthread_create(&th, NULL, high_thread, &p))
		die("pthread_create failed");
	sleep_until(now_ns() + (uint64_t)(o->settle_s * 1e9));
	if (sh->reg_err)
		die("%s", sh->reg_msg);

	usage_init(&u, o->cgroup);
	snapshot(o->cgroup, k0);
	ring0 = sh->ring_pages;
	t_start = now_ns();
	t_end = t_start + (uint64_t)(o->duration_s * 1e9);
	sh->recording = 1;
	usage_window(&u, o->cgroup, t_end, o->sample_ms);
	sh->recording = 0;
	t_end = now_ns();
	ring1 = sh->ring_pages;
	snapshot(o->cgroup, k1);
	sh->stop = 1;
	pthread_join(th, NULL);
	pthread_join(tl, NULL);
	if (o->churn_rate)
		pthread_join(tc, NULL);
	snprintf(path, sizeof(path), "%s/memory.ext.stat", o->cgroup);
	read_kv(path, kend);

	print_common(o, o->cgroup);
	printf(",\"hold_min_kib\":%lu,\"hold_max_kib\":%lu,\"gap_us\":%lu,\"period_us\":%lu",
	       o->hold_min_kib, o->hold_max_kib, o->gap_us, o->period_us);
	printf(",\"window_s\":%.3f,\"waits\":%zu,\"missed_periods\":%zu,\"holds\":%llu,"
	       "\"holds_per_s\":%.2f,\"hold_mib_per_s\":%.2f,\"churn_mibps\":%.2f,"
	       "\"churn_dropped_ms\":%.1f,\"refill_mib_per_s\":%.2f",
	       (t_end - t_start) / 1e9, p.nwait, p.missed, (unsigned long long)sh->holds,
	       sh->holds / ((t_end - t_start) / 1e9),
	       (double)sh->hold_bytes / MIB / ((t_end - t_start) / 1e9),
	       (double)(ring1 - ring0) * PAGE / MIB / ((t_end - t_start) / 1e9),
	       sh->churn_dropped_ns / 1e6,
	       (double)sh->refill_pages * PAGE / MIB / ((t_end - t_start) / 1e9));
	print_usage(&u, o->cgroup, kend);
	print_dist("wait", p.wait, p.nwait, 1);
	print_dist("lateness", p.late, p.nwait, 0);
	print_dist("hold", p.hold, p.nhold, 1);
	print_deltas(k0, k1);
	printf("}\n");
	return fflush(stdout) ? 1 : 0;
}

/* ---- fs variant ------------------------------------------------------------ */

/* Shared with the high process: its samples. */
struct fsh {
	volatile size_t n, missed;
	uint64_t op[];	/* op[nmax], then fsync[nmax], late[nmax] */
};

static void low_fs(const struct opts *o, struct shared *sh)
{
	char d[600], f[700], buf[8192];
	uint64_t seed = 0x2545f4914f6cdd1dull;
	unsigned long i = 0;
	pthread_t tc;
	struct load l;

	prog = "inversion(low)";
	enter_cgroup(o->low_cg);
	pin(o->churn_cpu);
	load_prefill(&l, o, sh);
	if (o->churn_rate && pthread_create(&tc, NULL, churn_thread, &l))
		die("pthread_create failed");
	pin(o->low_cpu);
	memset(buf, 'x', sizeof(buf));
	__atomic_store_n(&sh->phase, 1, __ATOMIC_RELEASE);
	while (!sh->stop) {
		unsigned long nf = 0, nb = 0;

		snprintf(d, sizeof(d), "%s/low/d%07lu", o->dir, i++);
		if (mkdir(d, 0755)) {
			sh->fs_errors++;
			sh->fs_errno = errno;
			sleep_until(now_ns() + 1000000ull);
			continue;
		}
		for (unsigned long j = 0; j < o->fs_files && !sh->stop; j++) {
			size_t len = o->fs_file_min + (o->fs_file_max > o->fs_file_min ?
				xorshift(&seed) % (o->fs_file_max - o->fs_file_min + 1) : 0);
			int fd;

			snprintf(f, sizeof(f), "%s/f%lu", d, j);
			fd = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0644);
			if (fd < 0 || write(fd, buf, len) != (ssize_t)len) {
				sh->fs_errors++;
				sh->fs_errno = errno;
			} else {
				nf++;
				nb += len;
			}
			if (fd >= 0)
				close(fd);
		}
		if (sh->recording) {
			sh->dirs++;
			sh->files += nf;
			sh->fs_bytes += nb;
		}
		if (o->fs_gap_us)
			sleep_until(now_ns() + o->fs_gap_us * 1000ull);
	}
	if (o->churn_rate)
		pthread_join(tc, NULL);
}

static void high_fs(const struct opts *o, struct shared *sh, struct fsh *h, size_t nmax)
{
	uint64_t *op = h->op, *fs = h->op + nmax, *late = h->op + 2 * nmax;
	uint64_t period = o->fs_period_us * 1000ull, deadline;
	size_t len = o->high_file_kib * KIB;
	char f[700], *buf = malloc(len ? len : 1);
	unsigned long i = 0;

	prog = "inversion(high)";
	if (!buf)
		die("out of memory");
	memset(buf, 'h', len);
	enter_cgroup(o->high_cg);
	pin(o->high_cpu);
	deadline = now_ns();
	while (!sh->stop) {
		uint64_t t0, t1, t2, t3;
		int fd;

		sleep_until(deadline);
		snprintf(f, sizeof(f), "%s/high/h%07lu", o->dir, i++);
		t0 = now_ns();
		fd = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		if (fd < 0)
			die("open %s: %s", f, strerror(errno));
		if (write(fd, buf, len) != (ssize_t)len)
			die("write %s: %s", f, strerror(errno));
		t1 = now_ns();
		if (fsync(fd))
			die("fsync %s: %s", f, strerror(errno));
		t2 = now_ns();
		close(fd);
		t3 = now_ns();
		if (sh->recording && h->n < nmax) {
			op[h->n] = t3 - t0;
			fs[h->n] = t2 - t1;
			late[h->n] = t0 > deadline ? t0 - deadline : 0;
			h->n++;
		}
		deadline += period;
		if (t3 > deadline + period) {
			uint64_t skip = (t3 - deadline) / period;

			if (sh->recording)
				h->missed += skip;
			deadline += skip * period;
		}
	}
}

static int run_fs(const struct opts *o)
{
	struct kv *k0 = calloc(NR_SRC, sizeof(struct kv)), *k1 = calloc(NR_SRC, sizeof(struct kv));
	struct kv *kend = calloc(1, sizeof(struct kv));
	struct kv *hk0 = calloc(NR_SRC, sizeof(struct kv)), *hk1 = calloc(NR_SRC, sizeof(struct kv));
	struct shared *sh = map_shared(PAGE);
	size_t nmax = (size_t)(o->duration_s * 1e6 / o->fs_period_us) + 16;
	struct fsh *h = map_shared(sizeof(*h) + 3 * nmax * sizeof(uint64_t));
	uint64_t t, t_start, t_end, ring0, ring1;
	pid_t low, high;
	struct usage u;
	char path[700];
	int st, rc = 0;

	if (!k0 || !k1 || !kend || !hk0 || !hk1)
		die("out of memory");
	if (!o->low_cg || !o->high_cg || !o->dir)
		die("fs needs --low-cgroup, --high-cgroup and --dir");
	snprintf(path, sizeof(path), "%s/low", o->dir);
	if (mkdir(path, 0755) && errno != EEXIST)
		die("mkdir %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/high", o->dir);
	if (mkdir(path, 0755) && errno != EEXIST)
		die("mkdir %s: %s", path, strerror(errno));

	t = now_ns();
	low = fork();
	if (low < 0)
		die("fork: %s", strerror(errno));
	if (!low) {
		low_fs(o, sh);
		_exit(0);
	}
	while (!__atomic_load_n(&sh->phase, __ATOMIC_ACQUIRE)) {
		if (waitpid(low, &st, WNOHANG) == low)
			die("the low process died during the prefill (status %#x)", st);
		sleep_until(now_ns() + 10000000ull);
	}
	fprintf(stderr, "%s: fs %s rep %d: prefill %lu+%lu MiB in %.1f s\n", prog, o->label,
		o->rep, o->ballast_mib, o->ring_mib, (now_ns() - t) / 1e9);
	high = fork();
	if (high < 0)
		die("fork: %s", strerror(errno));
	if (!high) {
		high_fs(o, sh, h, nmax);
		_exit(0);
	}
	sleep_until(now_ns() + (uint64_t)(o->settle_s * 1e9));

	usage_init(&u, o->low_cg);
	snapshot(o->low_cg, k0);
	snapshot(o->high_cg, hk0);
	ring0 = sh->ring_pages;
	t_start = now_ns();
	t_end = t_start + (uint64_t)(o->duration_s * 1e9);
	sh->recording = 1;
	usage_window(&u, o->low_cg, t_end, o->sample_ms);
	sh->recording = 0;
	t_end = now_ns();
	ring1 = sh->ring_pages;
	snapshot(o->low_cg, k1);
	snapshot(o->high_cg, hk1);
	sh->stop = 1;
	if (waitpid(high, &st, 0) != high || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "%s: the high process failed (status %#x)\n", prog, st);
		rc = 1;
	}
	if (waitpid(low, &st, 0) != low || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "%s: the low process failed (status %#x)\n", prog, st);
		rc = 1;
	}
	snprintf(path, sizeof(path), "%s/memory.ext.stat", o->low_cg);
	read_kv(path, kend);

	print_common(o, o->low_cg);
	printf(",\"high_cgroup\":");
	json_str(o->high_cg);
	printf(",\"dir\":");
	json_str(o->dir);
	printf(",\"fs_period_us\":%lu,\"fs_files\":%lu,\"fs_file_min\":%lu,\"fs_file_max\":%lu,"
	       "\"fs_gap_us\":%lu,\"high_file_kib\":%lu",
	       o->fs_period_us, o->fs_files, o->fs_file_min, o->fs_file_max, o->fs_gap_us,
	       o->high_file_kib);
	printf(",\"window_s\":%.3f,\"ops\":%zu,\"missed_periods\":%zu,\"low_dirs\":%llu,"
	       "\"low_files\":%llu,\"low_dirs_per_s\":%.2f,\"low_files_per_s\":%.2f,"
	       "\"low_fs_errors\":%llu,\"low_fs_errno\":%d,\"churn_mibps\":%.2f,\"churn_dropped_ms\":%.1f",
	       (t_end - t_start) / 1e9, (size_t)h->n, (size_t)h->missed,
	       (unsigned long long)sh->dirs, (unsigned long long)sh->files,
	       sh->dirs / ((t_end - t_start) / 1e9), sh->files / ((t_end - t_start) / 1e9),
	       (unsigned long long)sh->fs_errors, sh->fs_errno,
	       (double)(ring1 - ring0) * PAGE / MIB / ((t_end - t_start) / 1e9),
	       sh->churn_dropped_ns / 1e6);
	print_usage(&u, o->low_cg, kend);
	print_dist("op", h->op, h->n, 1);
	print_dist("fsync", h->op + nmax, h->n, 1);
	print_dist("lateness", h->op + 2 * nmax, h->n, 0);
	print_deltas(k0, k1);
	printf(",\"high\":{\"x\":0");
	print_deltas(hk0, hk1);
	printf("}}\n");
	if (fflush(stdout))
		rc = 1;
	return rc;
}

/* ---- main -------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	enum {
		O_CG = 256, O_LOWCG, O_HIGHCG, O_DIR, O_LABEL, O_REP, O_MX, O_SETTLE, O_DUR,
		O_BALLAST, O_RING, O_CHURN, O_REFILL, O_HMIN, O_HMAX, O_GAP, O_PERIOD,
		O_FSPERIOD, O_FSFILES, O_FSMIN, O_FSMAX, O_FSGAP, O_HIGHKIB, O_SAMPLE,
		O_LOWCPU, O_HIGHCPU, O_CHURNCPU,
	};
	static const struct option lo[] = {
		{ "cgroup", 1, NULL, O_CG }, { "low-cgroup", 1, NULL, O_LOWCG },
		{ "high-cgroup", 1, NULL, O_HIGHCG }, { "dir", 1, NULL, O_DIR },
		{ "label", 1, NULL, O_LABEL }, { "rep", 1, NULL, O_REP }, { "mx", 0, NULL, O_MX },
		{ "settle-s", 1, NULL, O_SETTLE }, { "duration-s", 1, NULL, O_DUR },
		{ "ballast-mib", 1, NULL, O_BALLAST }, { "ring-mib", 1, NULL, O_RING },
		{ "churn-rate", 1, NULL, O_CHURN }, { "refill", 0, NULL, O_REFILL },
		{ "hold-min-kib", 1, NULL, O_HMIN }, { "hold-max-kib", 1, NULL, O_HMAX },
		{ "gap-us", 1, NULL, O_GAP }, { "period-us", 1, NULL, O_PERIOD },
		{ "fs-period-us", 1, NULL, O_FSPERIOD }, { "fs-files", 1, NULL, O_FSFILES },
		{ "fs-file-min", 1, NULL, O_FSMIN }, { "fs-file-max", 1, NULL, O_FSMAX },
		{ "fs-gap-us", 1, NULL, O_FSGAP }, { "high-file-kib", 1, NULL, O_HIGHKIB },
		{ "sample-ms", 1, NULL, O_SAMPLE }, { "low-cpu", 1, NULL, O_LOWCPU },
		{ "high-cpu", 1, NULL, O_HIGHCPU }, { "churn-cpu", 1, NULL, O_CHURNCPU },
		{ "help", 0, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	struct opts o = {
		.label = "", .settle_s = 2, .duration_s = 10, .ballast_mib = 48, .ring_mib = 32,
		.churn_rate = 0, .hold_min_kib = 1024,
		.hold_max_kib = 4096, .gap_us = 1000, .period_us = 5000, .fs_period_us = 10000,
		.fs_files = 4, .fs_file_min = 512, .fs_file_max = 4096, .fs_gap_us = 0,
		.high_file_kib = 4, .sample_ms = 10, .low_cpu = 0, .high_cpu = 1, .churn_cpu = 0,
	};
	char cgbuf[600];
	int opt;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case O_CG: o.cgroup = optarg; break;
		case O_LOWCG: o.low_cg = optarg; break;
		case O_HIGHCG: o.high_cg = optarg; break;
		case O_DIR: o.dir = optarg; break;
		case O_LABEL: o.label = optarg; break;
		case O_REP: o.rep = (int)arg_ul(optarg, "--rep"); break;
		case O_MX: o.mx = 1; break;
		case O_SETTLE: o.settle_s = arg_d(optarg, "--settle-s"); break;
		case O_DUR: o.duration_s = arg_d(optarg, "--duration-s"); break;
		case O_BALLAST: o.ballast_mib = arg_ul(optarg, "--ballast-mib"); break;
		case O_RING: o.ring_mib = arg_ul(optarg, "--ring-mib"); break;
		case O_CHURN: o.churn_rate = arg_ul(optarg, "--churn-rate"); break;
		case O_REFILL: o.refill = 1; break;
		case O_HMIN: o.hold_min_kib = arg_ul(optarg, "--hold-min-kib"); break;
		case O_HMAX: o.hold_max_kib = arg_ul(optarg, "--hold-max-kib"); break;
		case O_GAP: o.gap_us = arg_ul(optarg, "--gap-us"); break;
		case O_PERIOD: o.period_us = arg_ul(optarg, "--period-us"); break;
		case O_FSPERIOD: o.fs_period_us = arg_ul(optarg, "--fs-period-us"); break;
		case O_FSFILES: o.fs_files = arg_ul(optarg, "--fs-files"); break;
		case O_FSMIN: o.fs_file_min = arg_ul(optarg, "--fs-file-min"); break;
		case O_FSMAX: o.fs_file_max = arg_ul(optarg, "--fs-file-max"); break;
		case O_FSGAP: o.fs_gap_us = arg_ul(optarg, "--fs-gap-us"); break;
		case O_HIGHKIB: o.high_file_kib = arg_ul(optarg, "--high-file-kib"); break;
		case O_SAMPLE: o.sample_ms = arg_ul(optarg, "--sample-ms"); break;
		case O_LOWCPU: o.low_cpu = (int)strtol(optarg, NULL, 0); break;
		case O_HIGHCPU: o.high_cpu = (int)strtol(optarg, NULL, 0); break;
		case O_CHURNCPU: o.churn_cpu = (int)strtol(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: inversion pthread|fs [options]; see the comment at the "
				"top of bench/inversion/inversion.c\n");
			return opt != 'h' ? 2 : 0;
		}
	}
	if (optind != argc - 1)
		die("usage: inversion pthread|fs [options]");
	o.mode = argv[optind];
	if (o.refill && (o.churn_rate || !o.ring_mib))
		die("--refill writes the ring from the low thread: it needs --ring-mib > 0 and --churn-rate 0");
	if (!o.period_us || !o.fs_period_us || !o.sample_ms ||
	    o.duration_s <= 0 || !o.hold_max_kib || o.hold_min_kib > o.hold_max_kib ||
	    o.fs_file_min > o.fs_file_max || o.fs_file_max > 8192)
		die("bad option values (periods > 0, min <= max, --fs-file-max <= 8192)");
	if (!strcmp(o.mode, "pthread")) {
		if (!o.cgroup) {
			own_cgroup(cgbuf, sizeof(cgbuf));
			o.cgroup = cgbuf;
		}
		return run_pthread(&o);
	}
	if (!strcmp(o.mode, "fs"))
		return run_fs(&o);
	die("unknown mode '%s' (pthread or fs)", o.mode);
	return 2;
}
