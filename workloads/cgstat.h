/* SPDX-License-Identifier: GPL-2.0 */
/* Reading the caller's own memory cgroup files (inside the VM). */
#ifndef MX_CGSTAT_H
#define MX_CGSTAT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The caller's cgroup directory under /sys/fs/cgroup, from /proc/self/cgroup. */
static inline int cg_self_dir(char *buf, size_t len)
{
	char line[2048];
	FILE *f = fopen("/proc/self/cgroup", "r");
	int ok = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(buf, len, "/sys/fs/cgroup%s", strcmp(line + 3, "/") ? line + 3 : "");
		ok = 0;
		break;
	}
	fclose(f);
	return ok;
}

/* A number from a one-value cgroup file; -1 if unreadable, -2 for "max". */
static inline int64_t cg_read_num(const char *dir, const char *file)
{
	char path[4200], v[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(v, sizeof(v), f))
		v[0] = 0;
	fclose(f);
	if (!strncmp(v, "max", 3))
		return -2;
	if (v[0] < '0' || v[0] > '9')
		return -1;
	return strtoll(v, NULL, 10);
}

#endif
