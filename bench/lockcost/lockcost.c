// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * lockcost: what the thread word (client/include/memcg_ext/thread.h) adds to
 * an uncontended lock/unlock pair.
 *
 * One thread, one process-private default pthread mutex nobody else touches.
 * Per repetition, in an order that rotates from one repetition to the next:
 *   plain  N x { pthread_mutex_lock(); pthread_mutex_unlock(); }
 *   mx     N x { mx_mutex_lock();      mx_mutex_unlock(); }
 *   cs     N x { mx_cs_enter();        mx_cs_leave(); }
 *   empty  N x { compiler barrier }    (the loop itself)
 * each run in blocks of 100k pairs timed with CLOCK_MONOTONIC; a loop's
 * figure is the 10th percentile of its blocks' ns/pair (see run_kind()).
 * Prints one line per repetition and the medians over repetitions; --json
 * prints one JSON object instead.
 *
 * usage: lockcost [--iters N] [--reps N] [--warmup N] [--cpu C] [--json]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "memcg_ext/thread.h"

enum { PLAIN, MX, CS, EMPTY, NR_KINDS };
static const char *const kind_names[NR_KINDS] = { "plain", "mx", "cs", "empty" };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* noinline: each loop is compiled once, the same way in every repetition */
static __attribute__((noinline)) double loop_plain(long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&lock);
		pthread_mutex_unlock(&lock);
	}
	return now_ns() - t0;
}

static __attribute__((noinline)) double loop_mx(long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		mx_mutex_lock(&lock);
		mx_mutex_unlock(&lock);
	}
	return now_ns() - t0;
}

static __attribute__((noinline)) double loop_cs(long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		mx_cs_enter();
		mx_cs_leave();
	}
	return now_ns() - t0;
}

static __attribute__((noinline)) double loop_empty(long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		__asm__ __volatile__("" ::: "memory");
	return now_ns() - t0;
}

static double run_block(int k, long n)
{
	switch (k) {
	case PLAIN: return loop_plain(n);
	case MX: return loop_mx(n);
	case CS: return loop_cs(n);
	default: return loop_empty(n);
	}
}

static int cmp_double(const void *a, const void *b);

#define BLOCK	100000L
static double *blocks;

/*
 * n pairs of kind k in blocks of BLOCK pairs, each block timed: returns the
 * 10th percentile of the blocks' ns/pair. The host preempts this thread now
 * and then (a shared, loaded machine), which only ever adds time to the
 * block it hits; a low percentile of ~1 ms blocks is the undisturbed cost.
 */
static double run_kind(int k, long n)
{
	long nb = (n + BLOCK - 1) / BLOCK, i;

	for (i = 0; i < nb; i++) {
		long m = i == nb - 1 ? n - i * BLOCK : BLOCK;

		blocks[i] = run_block(k, m) / (double)m;
	}
	qsort(blocks, (size_t)nb, sizeof(*blocks), cmp_double);
	return blocks[nb / 10];
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double *s = malloc(sizeof(*s) * (size_t)n), m;

	memcpy(s, v, sizeof(*s) * (size_t)n);
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

static double minimum(const double *v, int n)
{
	double m = v[0];

	for (int i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

static void json_array(const char *name, const double *v, int n)
{
	printf("\"%s\":[", name);
	for (int i = 0; i < n; i++)
		printf("%s%.4f", i ? "," : "", v[i]);
	printf("]");
}

static long num(const char *s, const char *opt)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0) {
		fprintf(stderr, "lockcost: %s: '%s' is not a number\n", opt, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long iters = 10000000, reps = 11, warmup = 1, cpu = -1;
	int json = 0;
	double *ns[NR_KINDS], *d_mx, *d_cs;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (i + 1 < argc && !strcmp(argv[i], "--iters")) {
			iters = num(argv[++i], "--iters");
		} else if (i + 1 < argc && !strcmp(argv[i], "--reps")) {
			reps = num(argv[++i], "--reps");
		} else if (i + 1 < argc && !strcmp(argv[i], "--warmup")) {
			warmup = num(argv[++i], "--warmup");
		} else if (i + 1 < argc && !strcmp(argv[i], "--cpu")) {
			cpu = num(argv[++i], "--cpu");
		} else {
			fprintf(stderr, "usage: lockcost [--iters N] [--reps N] [--warmup N] "
				"[--cpu C] [--json]\n");
			return 2;
		}
	}
	if (iters < 1 || reps < 1 || reps > 10000) {
		fprintf(stderr, "lockcost: --iters >= 1, 1 <= --reps <= 10000\n");
		return 2;
	}
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			perror("lockcost: sched_setaffinity");
			return 1;
		}
	}
	for (int k = 0; k < NR_KINDS; k++)
		ns[k] = calloc((size_t)reps, sizeof(double));
	d_mx = calloc((size_t)reps, sizeof(double));
	d_cs = calloc((size_t)reps, sizeof(double));

	blocks = calloc((size_t)((iters + BLOCK - 1) / BLOCK), sizeof(double));
	for (long w = 0; w < warmup; w++)
		for (int k = 0; k < NR_KINDS; k++)
			run_kind(k, iters);
	for (long r = 0; r < reps; r++) {
		for (int j = 0; j < NR_KINDS; j++) {
			int k = (int)((j + r) % NR_KINDS);

			ns[k][r] = run_kind(k, iters);
		}
		d_mx[r] = ns[MX][r] - ns[PLAIN][r];
		d_cs[r] = ns[CS][r] - ns[EMPTY][r];
		if (!json)
			printf("rep %2ld: plain %.3f  mx %.3f  cs %.3f  empty %.3f ns/pair  "
			       "mx-plain %+.3f\n", r, ns[PLAIN][r], ns[MX][r], ns[CS][r],
			       ns[EMPTY][r], d_mx[r]);
		if (mx_cs_depth()) {
			fprintf(stderr, "lockcost: cs_depth %u after a repetition\n", mx_cs_depth());
			return 1;
		}
	}
	if (!json) {
		printf("median ns/pair: plain %.3f  mx %.3f  cs %.3f  empty %.3f\n",
		       median(ns[PLAIN], (int)reps), median(ns[MX], (int)reps),
		       median(ns[CS], (int)reps), median(ns[EMPTY], (int)reps));
		printf("overhead (median of per-rep mx-plain): %.3f ns/pair\n",
		       median(d_mx, (int)reps));
		return 0;
	}
	printf("{\"iters\":%ld,\"reps\":%ld,\"warmup\":%ld,\"cpu\":%ld,", iters, reps, warmup, cpu);
	for (int k = 0; k < NR_KINDS; k++) {
		printf("\"median_%s\":%.4f,\"min_%s\":%.4f,", kind_names[k],
		       median(ns[k], (int)reps), kind_names[k], minimum(ns[k], (int)reps));
	}
	printf("\"median_mx_minus_plain\":%.4f,\"median_cs_minus_empty\":%.4f,",
	       median(d_mx, (int)reps), median(d_cs, (int)reps));
	for (int k = 0; k < NR_KINDS; k++) {
		json_array(kind_names[k], ns[k], (int)reps);
		printf(",");
	}
	json_array("mx_minus_plain", d_mx, (int)reps);
	printf(",");
	json_array("cs_minus_empty", d_cs, (int)reps);
	printf("}\n");
	for (int k = 0; k < NR_KINDS; k++)
		free(ns[k]);
	free(d_mx);
	free(d_cs);
	free(blocks);
	return 0;
}
