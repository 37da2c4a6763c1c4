// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the memcg_ext policy loaders.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <memcg_ext/common.h>

volatile int mx_exit_req;
static bool mx_verbose;

static void mx_signal_handler(int sig)
{
	(void)sig;
	mx_exit_req = 1;
}

/*
 * Install handlers with sigaction(): a shell that starts a loader with '&'
 * leaves SIGINT ignored, and the loader must still stop on SIGINT.
 */
void mx_setup_signals(void)
{
	struct sigaction sa = { .sa_handler = mx_signal_handler };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int mx_libbpf_print(enum libbpf_print_level level, const char *fmt,
			   va_list args)
{
	if (level == LIBBPF_DEBUG && !mx_verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

void mx_set_verbose(bool verbose)
{
	mx_verbose = verbose;
	libbpf_set_print(mx_libbpf_print);
}

/* A cgroup v2 id is the inode number of the cgroup's directory. */
s64 mx_cgroup_id(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return (s64)st.st_ino;
}

static u64 mx_walk_id;
static char *mx_walk_buf;
static size_t mx_walk_len;
static int mx_walk_found;

static int mx_walk(const char *path, const struct stat *st, int type,
		   struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_D || st->st_ino != mx_walk_id)
		return 0;
	if (strlen(path) >= mx_walk_len) {
		mx_walk_found = -ENAMETOOLONG;
		return 1;
	}
	strcpy(mx_walk_buf, path);
	mx_walk_found = 1;
	return 1;
}

/*
 * Find the directory under @root whose cgroup id is @id. Returns 0 and the
 * path in @buf, -ENOENT if there is none (the cgroup is gone), or another
 * negative errno.
 */
int mx_cgroup_path(const char *root, u64 id, char *buf, size_t len)
{
	int ret;

	mx_walk_id = id;
	mx_walk_buf = buf;
	mx_walk_len = len;
	mx_walk_found = 0;
	ret = nftw(root, mx_walk, 16, FTW_PHYS | FTW_MOUNT);
	if (ret < 0)
		return -errno;
	if (mx_walk_found < 0)
		return mx_walk_found;
	return mx_walk_found ? 0 : -ENOENT;
}

/* Format @bytes as memory.* files are read by people: 1.5M, 64.0M, max. */
const char *mx_fmt_bytes(s64 bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes;
	int u = -1;

	if (bytes == INT64_MAX) {
		snprintf(buf, len, "max");
		return buf;
	}
	if (bytes < 0) {
		snprintf(buf, len, "?");
		return buf;
	}
	while (v >= 1024 && u < (int)sizeof(units) - 2) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRId64 "B", bytes);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
	return buf;
}

/* Bytes with an optional K/M/G suffix; exits with a message if malformed. */
unsigned long long mx_parse_bytes(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	MX_BUG_ON(errno || end == s || *end, "bad %s '%s'", what, s);
	return v;
}

/* An unsigned number up to @max; exits with a message if malformed. */
unsigned long mx_parse_uint(const char *s, const char *what,
				unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	MX_BUG_ON(errno || end == s || *end || v > max, "bad %s '%s'", what, s);
	return v;
}
