/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers shared by the agent, the CLI and the unit tests. */
#ifndef MX_UTIL_H
#define MX_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "max" in a cgroup limit file. */
#define MX_UNLIMITED UINT64_MAX

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * A size from the policy: either bytes, or a percentage of a reference
 * that is only known at run time (memory.max of the cgroup, MemTotal).
 */
struct mx_size {
	bool set;
	bool is_percent;
	uint64_t bytes;
	double percent;
};

int mx_parse_bytes(const char *s, uint64_t *out);
int mx_parse_size(const char *s, bool allow_percent, struct mx_size *out);
int mx_parse_duration_ms(const char *s, uint64_t *out);
int mx_parse_percent(const char *s, double *out);
uint64_t mx_size_resolve(const struct mx_size *sz, uint64_t reference);
void mx_format_bytes(uint64_t bytes, char *buf, size_t len);

uint64_t mx_now_ms(void);
double mx_wall_time(void);

/* Whole file into buf (NUL terminated); returns length or -errno. */
ssize_t mx_read_file(const char *path, char *buf, size_t len);
int mx_write_file(const char *path, const char *val);
int mx_read_u64(const char *path, uint64_t *out);

#endif
