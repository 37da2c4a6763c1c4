/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small cgroup v2 helpers for the memcg_ext VM tests. They run only inside
 * the test VM, where /sys/fs/cgroup is ours.
 */
#ifndef __MX_CGROUP_HELPERS_H
#define __MX_CGROUP_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CG_ROOT "/sys/fs/cgroup"
#define MB (1024UL * 1024)

static inline int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n, len = strlen(val);

	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	close(fd);
	return n == len ? 0 : (n < 0 ? -errno : -EIO);
}

static inline int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

static inline int cg_write(const char *cg, const char *file, const char *val)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", cg, file) >= PATH_MAX)
		return -ENAMETOOLONG;
	return write_file(path, val);
}

static inline long long cg_read_ll(const char *cg, const char *file)
{
	char path[PATH_MAX], buf[64];

	if (snprintf(path, sizeof(path), "%s/%s", cg, file) >= PATH_MAX ||
	    read_file(path, buf, sizeof(buf)))
		return -1;
	if (!strcmp(buf, "max"))
		return LLONG_MAX;
	return atoll(buf);
}

/* Value of "key N" in a flat-keyed file such as memory.events. */
static inline long long cg_read_key(const char *cg, const char *file,
				    const char *key)
{
	char path[PATH_MAX], buf[4096], *p;
	size_t klen = strlen(key);

	if (snprintf(path, sizeof(path), "%s/%s", cg, file) >= PATH_MAX ||
	    read_file(path, buf, sizeof(buf)))
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return atoll(p + klen + 1);
	return -1;
}

/* Create CG_ROOT/@name afresh; returns its path in @buf. */
static inline int cg_create(const char *name, char *buf, size_t len)
{
	if (snprintf(buf, len, CG_ROOT "/%s", name) >= (int)len)
		return -ENAMETOOLONG;
	rmdir(buf);
	if (mkdir(buf, 0755))
		return -errno;
	return 0;
}

static inline uint64_t cg_id(const char *cg)
{
	struct stat st;

	return stat(cg, &st) ? 0 : st.st_ino;
}

/* Run @fn(@arg) in a child moved into @cg; returns the wait status. */
static inline int cg_run(const char *cg, int (*fn)(void *), void *arg)
{
	char pid[32];
	int status;
	pid_t child = fork();

	if (child < 0)
		return -errno;
	if (child == 0) {
		snprintf(pid, sizeof(pid), "%d", getpid());
		if (cg_write(cg, "cgroup.procs", pid))
			_exit(125);
		_exit(fn(arg));
	}
	if (waitpid(child, &status, 0) < 0)
		return -errno;
	return status;
}

/* Allocate and dirty (uintptr_t)@arg bytes of anonymous memory. */
static inline int alloc_anon(void *arg)
{
	size_t size = (uintptr_t)arg;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 1;
	/* Non-zero data: zero pages never reach zram (swap zeromap). */
	for (size_t i = 0; i < size; i += 4096)
		p[i] = (char)(i / 4096) | 1;
	munmap(p, size);
	return 0;
}

/* Wait up to @ms for the file at @path to read @want. */
static inline bool wait_file(const char *path, const char *want, int ms)
{
	char buf[256];

	for (int i = 0; i <= ms / 20; i++) {
		if (!read_file(path, buf, sizeof(buf)) && !strcmp(buf, want))
			return true;
		usleep(20 * 1000);
	}
	return false;
}

#endif /* __MX_CGROUP_HELPERS_H */
