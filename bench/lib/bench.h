/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers the benchmark programs share (bench/lib/bench.c): errors, clocks,
 * anonymous memory, cgroups, latency distributions as JSON, arguments.
 * Each program defines `prog`, the name its errors start with.
 */
#ifndef __MEMCG_EXT_BENCH_H
#define __MEMCG_EXT_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB 16			/* histogram buckets per power of 2 */
#define HIST_N (40 * HIST_SUB)

extern const char *prog;

__attribute__((noreturn, format(printf, 1, 2)))
void die(const char *fmt, ...);
uint64_t now_ns(void);
void sleep_until(uint64_t t);
void *map_anon(size_t len);
void enter_cgroup(const char *dir);
void own_cgroup(char *buf, size_t len);
int cmp_u64(const void *a, const void *b);
uint64_t quant(const uint64_t *v, size_t n, double q);
int hist_idx(uint64_t ns);
void print_dist(const char *name, uint64_t *v, size_t n, int hist);
void json_str(const char *s);
unsigned long arg_ul(const char *s, const char *what);
double arg_d(const char *s, const char *what);

#endif /* __MEMCG_EXT_BENCH_H */
