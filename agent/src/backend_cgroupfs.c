// SPDX-License-Identifier: GPL-2.0
/* The stock-kernel backend: cgroup v2 interface files only. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "backend.h"
#include "util.h"

static const char *const limit_files[MX_NR_LIMITS] = {
	[MX_LIMIT_MIN] = "memory.min",
	[MX_LIMIT_LOW] = "memory.low",
	[MX_LIMIT_HIGH] = "memory.high",
	[MX_LIMIT_MAX] = "memory.max",
	[MX_LIMIT_SWAP_MAX] = "memory.swap.max",
};

const char *mx_limit_file(enum mx_limit l)
{
	return limit_files[l];
}

static int cg_read_u64(const char *cg, const char *file, uint64_t *out)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return mx_read_u64(path, out);
}

/* "key value" lines: fill the keys asked for. */
static void read_keyed(const char *cg, const char *file, const char *const *keys,
		       uint64_t *const *vals, int n)
{
	char path[PATH_MAX], buf[8192], *line, *save;
	int i;

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	if (mx_read_file(path, buf, sizeof(buf)) < 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');

		if (!sp)
			continue;
		*sp = '\0';
		for (i = 0; i < n; i++)
			if (!strcmp(line, keys[i]))
				sscanf(sp + 1, "%" SCNu64, vals[i]);
	}
}

static void read_psi(const char *path, uint64_t *some_us, uint64_t *full_us,
		     double *some10, double *full10)
{
	char buf[512], *line, *save;

	if (mx_read_file(path, buf, sizeof(buf)) < 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		double a10, a60, a300;
		uint64_t total;

		if (sscanf(line, "some avg10=%lf avg60=%lf avg300=%lf total=%" SCNu64,
			   &a10, &a60, &a300, &total) == 4) {
			*some_us = total;
			*some10 = a10;
		} else if (sscanf(line, "full avg10=%lf avg60=%lf avg300=%lf total=%" SCNu64,
				  &a10, &a60, &a300, &total) == 4) {
			*full_us = total;
			*full10 = a10;
		}
	}
}

static int cgfs_read_state(struct mx_backend *be, const char *cg, struct mx_cg_state *st)
{
	static const char *const stat_keys[] = {
		"anon", "file", "workingset_refault_anon", "workingset_refault_file",
	};
	static const char *const ev_keys[] = { "low", "high", "max", "oom", "oom_kill" };
	static const char *const cgev_keys[] = { "populated" };
	uint64_t *stat_vals[] = { &st->anon, &st->file, &st->refault_anon, &st->refault_file };
	uint64_t *ev_vals[] = { &st->ev_low, &st->ev_high, &st->ev_max, &st->ev_oom,
				&st->ev_oom_kill };
	uint64_t populated = 0;
	uint64_t *cgev_vals[] = { &populated };
	char path[PATH_MAX], buf[16384];
	ssize_t n;
	int ret;

	(void)be;
	memset(st, 0, sizeof(*st));
	ret = cg_read_u64(cg, "memory.current", &st->current);
	if (ret)
		return ret;
	st->exists = true;
	cg_read_u64(cg, "memory.peak", &st->peak);
	cg_read_u64(cg, "memory.min", &st->min);
	cg_read_u64(cg, "memory.low", &st->low);
	cg_read_u64(cg, "memory.high", &st->high);
	cg_read_u64(cg, "memory.max", &st->max);
	cg_read_u64(cg, "memory.swap.current", &st->swap_current);
	st->swap_max = MX_UNLIMITED;
	cg_read_u64(cg, "memory.swap.max", &st->swap_max);
	read_keyed(cg, "memory.stat", stat_keys, stat_vals, ARRAY_SIZE(stat_keys));
	read_keyed(cg, "memory.events", ev_keys, ev_vals, ARRAY_SIZE(ev_keys));
	read_keyed(cg, "cgroup.events", cgev_keys, cgev_vals, 1);
	st->populated = populated;
	snprintf(path, sizeof(path), "%s/memory.pressure", cg);
	read_psi(path, &st->psi_some_us, &st->psi_full_us, &st->psi_some_avg10,
		 &st->psi_full_avg10);
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	n = mx_read_file(path, buf, sizeof(buf));
	for (ssize_t i = 0; i < n; i++)
		st->nr_procs += buf[i] == '\n';
	return 0;
}

static int cg_write(const char *cg, const char *file, const char *val)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return mx_write_file(path, val);
}

static int cgfs_set_limit(struct mx_backend *be, const char *cg, enum mx_limit l, uint64_t bytes)
{
	char val[32];

	(void)be;
	if (bytes == MX_UNLIMITED)
		snprintf(val, sizeof(val), "max");
	else
		snprintf(val, sizeof(val), "%" PRIu64, bytes);
	return cg_write(cg, limit_files[l], val);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * memory.reclaim loops for as long as it makes any progress, and a cgroup
 * whose file pages are refaulted as fast as they are reclaimed keeps it
 * going for a long time. The agent must not stall on one cgroup: the
 * write is interrupted by a one-shot SIGALRM (the kernel checks for a
 * pending signal between passes and returns -EINTR).
 */
static int cgfs_reclaim(struct mx_backend *be, const char *cg, uint64_t bytes)
{
	static bool handler_set;
	struct itimerval it = { .it_value = { .tv_sec = 1 } }, off = { 0 };
	char val[32];
	int ret;

	(void)be;
	if (!handler_set) {
		struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */

		sigaction(SIGALRM, &sa, NULL);
		handler_set = true;
	}
	snprintf(val, sizeof(val), "%" PRIu64, bytes);
	setitimer(ITIMER_REAL, &it, NULL);
	/* EAGAIN: the kernel reclaimed less than asked, a normal outcome. */
	ret = cg_write(cg, "memory.reclaim", val);
	setitimer(ITIMER_REAL, &off, NULL);
	return ret;
}

static int cgfs_kill(struct mx_backend *be, const char *cg)
{
	(void)be;
	return cg_write(cg, "cgroup.kill", "1");
}

static int cgfs_remove(struct mx_backend *be, const char *cg)
{
	(void)be;
	return rmdir(cg) ? -errno : 0;
}

static int cgfs_psi_trigger(struct mx_backend *be, const char *cg, uint64_t stall_us,
			    uint64_t window_us)
{
	char path[PATH_MAX], trig[64];
	int fd;

	(void)be;
	if (cg)
		snprintf(path, sizeof(path), "%s/memory.pressure", cg);
	else
		snprintf(path, sizeof(path), "/proc/pressure/memory");
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(trig, sizeof(trig), "some %" PRIu64 " %" PRIu64, stall_us, window_us);
	if (write(fd, trig, strlen(trig) + 1) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* kernfs files signal changes with EPOLLPRI once read after open. */
static int cgfs_events_fd(struct mx_backend *be, const char *cg, const char *file)
{
	char path[PATH_MAX], buf[512];
	int fd;

	(void)be;
	snprintf(path, sizeof(path), "%s/%s", cg, file);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (read(fd, buf, sizeof(buf)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

const struct mx_backend_ops mx_cgroupfs_backend_ops = {
	.name = "cgroupfs",
	.read_state = cgfs_read_state,
	.set_limit = cgfs_set_limit,
	.reclaim = cgfs_reclaim,
	.kill = cgfs_kill,
	.remove = cgfs_remove,
	.psi_trigger = cgfs_psi_trigger,
	.events_fd = cgfs_events_fd,
};
