// SPDX-License-Identifier: GPL-2.0
/* Helpers the benchmark programs share; see bench.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "bench.h"

void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000ull), (long)(t % 1000000000ull) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap %zu: %s", len, strerror(errno));
	/* THP charges and reclaim differ: 4 KiB pages only. */
	if (madvise(p, len, MADV_NOHUGEPAGE))
		die("madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
	return p;
}

/* Move the calling process into the cgroup directory @dir. */
void enter_cgroup(const char *dir)
{
	char path[700];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "w");
	if (!f || fprintf(f, "0\n") < 0 || fclose(f))
		die("cannot move into %s: %s", dir, strerror(errno));
}

void own_cgroup(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[512];

	if (!f)
		die("/proc/self/cgroup: %s", strerror(errno));
	buf[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(buf, len, "/sys/fs/cgroup%s", strcmp(line + 3, "/") ? line + 3 : "");
	}
	fclose(f);
	if (!buf[0])
		die("not in a cgroup v2 hierarchy");
}

int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank quantile of a sorted array. */
uint64_t quant(const uint64_t *v, size_t n, double q)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)(q * n);
	if ((double)i < q * n)
		i++;
	if (i > n)
		i = n;
	return v[i ? i - 1 : 0];
}

/*
 * Log-linear buckets: [2^k (1 + j/16), 2^k (1 + (j+1)/16)) is bucket
 * 16k + j (exact values below 16 ns).
 */
int hist_idx(uint64_t ns)
{
	int k, i;

	if (ns < HIST_SUB)
		return (int)ns;
	k = 63 - __builtin_clzll(ns);
	i = k * HIST_SUB + (int)((ns >> (k - 4)) & (HIST_SUB - 1));
	return i >= HIST_N ? HIST_N - 1 : i;
}

void print_dist(const char *name, uint64_t *v, size_t n, int hist)
{
	static unsigned int h[HIST_N];
	double sum = 0;
	int f = 1;

	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += (double)v[i];
	printf(",\"%s\":{\"n\":%zu,\"mean_us\":%.2f,\"p50_us\":%.2f,\"p90_us\":%.2f,"
	       "\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f,\"min_us\":%.2f",
	       name, n, n ? sum / n / 1e3 : 0, quant(v, n, 0.5) / 1e3,
	       quant(v, n, 0.9) / 1e3, quant(v, n, 0.99) / 1e3,
	       quant(v, n, 0.999) / 1e3, n ? v[n - 1] / 1e3 : 0, n ? v[0] / 1e3 : 0);
	if (hist) {
		memset(h, 0, sizeof(h));
		for (size_t i = 0; i < n; i++)
			h[hist_idx(v[i])]++;
		printf(",\"hist_sub\":%d,\"hist\":{", HIST_SUB);
		for (int i = 0; i < HIST_N; i++) {
			if (!h[i])
				continue;
			printf("%s\"%d\":%u", f ? "" : ",", i, h[i]);
			f = 0;
		}
		printf("}");
	}
	printf("}");
}

void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if ((unsigned char)*s >= 0x20)
			putchar(*s);
	}
	putchar('"');
}

unsigned long arg_ul(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end)
		die("bad %s '%s'", what, s);
	return v;
}

double arg_d(const char *s, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < 0)
		die("bad %s '%s'", what, s);
	return v;
}
