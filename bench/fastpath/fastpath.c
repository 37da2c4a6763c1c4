// SPDX-License-Identifier: GPL-2.0
/*
 * fastpath: memcg charge fast-path microbenchmark.
 *
 * Run inside a memory cgroup that is far below its limits. Each iteration
 * maps a fresh region, writes one byte to every page (one page fault and
 * one memcg charge per page, served from the per-cpu charge stock or a
 * page_counter charge that fits under the limits), and unmaps it (the
 * uncharge). Only the touch loop is timed for the ns/fault figure; the
 * teardown is timed separately. The touch loop is also timed in chunks of
 * 64 pages (MEMCG_CHARGE_BATCH: one per-cpu stock refill per chunk): under
 * QEMU TCG the host preempts the vCPU for milliseconds at a time, and a
 * low percentile of the sub-millisecond chunks is the uncontended cost.
 *
 *   anon  private anonymous memory (MADV_NOHUGEPAGE: 4 KiB faults only)
 *   file  a shared mapping of an unlinked tmpfs file: page cache (shmem)
 *         charges; the pages are freed when the file is closed
 *
 * Prints one JSON object per invocation on stdout.
 *
 * usage: fastpath [--mode anon|file] [--size-mib N] [--iters N]
 *                 [--warmup N] [--cpu N|-1] [--dir PATH] [--label S]
 *                 [--rep N]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_ITERS 1000
#define CHUNK 64		/* pages per timed chunk */
#define MAX_CHUNKS (1 << 20)

struct sample {
	double fault_ns;	/* touch loop, per page */
	double teardown_ns;	/* munmap (+ close for file), per page */
	long minflt;		/* minor faults during the touch loop */
};

static const char *prog = "fastpath";

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		die("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long minflt_now(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		die("getrusage: %s", strerror(errno));
	return ru.ru_minflt;
}

static long parse_long(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		die("%s: '%s' is not a number in [%ld, %ld]", opt, s, min, max);
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double tmp[MAX_ITERS];

	memcpy(tmp, v, sizeof(*v) * n);
	qsort(tmp, n, sizeof(*tmp), cmp_double);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* The q-quantile (0..1, nearest rank) of v[0..n), sorting v. */
static double quantile(double *v, size_t n, double q)
{
	size_t k;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	k = (size_t)(q * (double)(n - 1) + 0.5);
	return v[k];
}

/* The cgroup v2 path of this process, "" if unknown. */
static void own_cgroup(char *buf, size_t len)
{
	char line[4096];
	FILE *f = fopen("/proc/self/cgroup", "r");

	buf[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(buf, len, "%s", line + 3);
		break;
	}
	fclose(f);
}

/* memory.current of this process's cgroup in bytes, -1 if unreadable. */
static long long memcg_current(const char *cg)
{
	char path[4200];
	long long v = -1;
	FILE *f;

	if (!cg[0] || !strcmp(cg, "/"))
		return -1;
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.current", cg);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Print a string as a JSON string literal (the label, the cgroup path). */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

struct config {
	double *chunks;		/* ns per fault of each timed chunk */
	size_t nr_chunks;
	int file;
	size_t size;
	size_t pages;
	long page;
	const char *dir;
	const char *cg;
	long long charged;	/* memory.current growth in the first pass */
};

static void one_pass(struct config *c, struct sample *s, int first, int timed)
{
	volatile char *p;
	uint64_t t0, t1, t2, tc;
	long long before = 0;
	long f0, f1;
	char *map;
	int fd = -1;
	size_t i;

	if (c->file) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/fastpath.%d", c->dir, (int)getpid());
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_TRUNC, 0600);
		if (fd < 0)
			die("open %s: %s", path, strerror(errno));
		if (unlink(path))
			die("unlink %s: %s", path, strerror(errno));
		if (ftruncate(fd, (off_t)c->size))
			die("ftruncate: %s", strerror(errno));
		map = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	} else {
		map = mmap(NULL, c->size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (map == MAP_FAILED)
		die("mmap %zu bytes: %s", c->size, strerror(errno));
	/* 4 KiB faults only: one charge of one page per fault. */
	if (madvise(map, c->size, MADV_NOHUGEPAGE) && errno != EINVAL)
		die("madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
	p = map;

	if (first)
		before = memcg_current(c->cg);
	f0 = minflt_now();
	t0 = tc = now_ns();
	for (i = 0; i < c->pages; i++) {
		p[i * (size_t)c->page] = (char)(i | 1);
		if ((i + 1) % CHUNK == 0) {
			uint64_t t = now_ns();

			if (timed && c->nr_chunks < MAX_CHUNKS)
				c->chunks[c->nr_chunks++] = (double)(t - tc) / CHUNK;
			tc = t;
		}
	}
	t1 = now_ns();
	f1 = minflt_now();
	if (first && before >= 0) {
		long long after = memcg_current(c->cg);

		c->charged = after >= 0 ? after - before : -1;
	}
	if (munmap(map, c->size))
		die("munmap: %s", strerror(errno));
	if (fd >= 0 && close(fd))
		die("close: %s", strerror(errno));
	t2 = now_ns();

	s->fault_ns = (double)(t1 - t0) / (double)c->pages;
	s->teardown_ns = (double)(t2 - t1) / (double)c->pages;
	s->minflt = f1 - f0;
}

int main(int argc, char **argv)
{
	static struct sample samples[MAX_ITERS];
	double fault[MAX_ITERS], teardown[MAX_ITERS];
	const char *label = "", *mode = "anon";
	long size_mib = 64, iters = 10, warmup = 2, cpu = -1, rep = -1;
	struct config c = { .dir = "/dev/shm", .charged = -1 };
	char cg[4096];
	double minflt_per_page = 0, fmin, fmax;
	uint64_t start;
	int i;

	for (i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			printf("usage: %s [--mode anon|file] [--size-mib N] [--iters N] [--warmup N]\n"
			       "       [--cpu N|-1] [--dir TMPFS_DIR] [--label S] [--rep N]\n", prog);
			return 0;
		}
		if (!v)
			die("%s needs a value", o);
		if (!strcmp(o, "--mode"))
			mode = v;
		else if (!strcmp(o, "--size-mib"))
			size_mib = parse_long(o, v, 1, 1 << 20);
		else if (!strcmp(o, "--iters"))
			iters = parse_long(o, v, 1, MAX_ITERS);
		else if (!strcmp(o, "--warmup"))
			warmup = parse_long(o, v, 0, MAX_ITERS);
		else if (!strcmp(o, "--cpu"))
			cpu = parse_long(o, v, -1, CPU_SETSIZE - 1);
		else if (!strcmp(o, "--dir"))
			c.dir = v;
		else if (!strcmp(o, "--label"))
			label = v;
		else if (!strcmp(o, "--rep"))
			rep = parse_long(o, v, -1, 1000000);
		else
			die("unknown option '%s' (see --help)", o);
		i++;
	}
	if (!strcmp(mode, "anon"))
		c.file = 0;
	else if (!strcmp(mode, "file"))
		c.file = 1;
	else
		die("--mode must be anon or file, not '%s'", mode);

	c.page = sysconf(_SC_PAGESIZE);
	if (c.page <= 0)
		die("cannot get the page size");
	c.size = (size_t)size_mib << 20;
	c.pages = c.size / (size_t)c.page;

	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			die("sched_setaffinity(cpu %ld): %s", cpu, strerror(errno));
	}
	if (c.pages < CHUNK)
		die("--size-mib too small for a %d-page chunk", CHUNK);
	c.chunks = calloc((c.pages / CHUNK) * (size_t)iters < MAX_CHUNKS ?
			  (c.pages / CHUNK) * (size_t)iters : MAX_CHUNKS, sizeof(*c.chunks));
	if (!c.chunks)
		die("out of memory");
	own_cgroup(cg, sizeof(cg));
	c.cg = cg;

	start = now_ns();
	for (i = 0; i < warmup + iters; i++) {
		struct sample s;

		one_pass(&c, &s, i == 0, i >= warmup);
		if (i >= warmup)
			samples[i - warmup] = s;
	}

	fmin = fmax = samples[0].fault_ns;
	for (i = 0; i < iters; i++) {
		fault[i] = samples[i].fault_ns;
		teardown[i] = samples[i].teardown_ns;
		minflt_per_page += (double)samples[i].minflt / (double)c.pages;
		if (fault[i] < fmin)
			fmin = fault[i];
		if (fault[i] > fmax)
			fmax = fault[i];
	}
	minflt_per_page /= (double)iters;

	printf("{\"bench\":\"fastpath\",\"label\":");
	json_str(label);
	printf(",\"rep\":%ld,\"mode\":\"%s\",\"size_mib\":%ld,\"pages\":%zu,"
	       "\"page_size\":%ld,\"warmup\":%ld,\"iters\":%ld,\"cpu\":%ld,\"cgroup\":",
	       rep, mode, size_mib, c.pages, c.page, warmup, iters, cpu);
	json_str(cg);
	printf(",\"charged_pages_first_pass\":%lld", c.charged < 0 ? -1 : c.charged / c.page);
	printf(",\"minflt_per_page\":%.4f", minflt_per_page);
	printf(",\"ns_per_fault_median\":%.2f,\"ns_per_fault_min\":%.2f,\"ns_per_fault_max\":%.2f",
	       median(fault, (int)iters), fmin, fmax);
	printf(",\"teardown_ns_per_page_median\":%.2f", median(teardown, (int)iters));
	printf(",\"chunk_pages\":%d,\"chunks\":%zu", CHUNK, c.nr_chunks);
	printf(",\"ns_per_fault_chunk_p10\":%.2f", quantile(c.chunks, c.nr_chunks, 0.10));
	printf(",\"ns_per_fault_chunk_p25\":%.2f", quantile(c.chunks, c.nr_chunks, 0.25));
	printf(",\"ns_per_fault_chunk_p50\":%.2f", quantile(c.chunks, c.nr_chunks, 0.50));
	printf(",\"ns_per_fault\":[");
	for (i = 0; i < iters; i++)
		printf("%s%.2f", i ? "," : "", fault[i]);
	printf("],\"wall_s\":%.3f}\n", (double)(now_ns() - start) / 1e9);
	return fflush(stdout) ? 1 : 0;
}
