// SPDX-License-Identifier: GPL-2.0
/* Parsing of sizes and durations, small file helpers, clocks. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* "123", "64K", "16M", "2G", "1T" (binary multiples), or "max". */
int mx_parse_bytes(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mult = 1;

	if (!strcmp(s, "max")) {
		*out = MX_UNLIMITED;
		return 0;
	}
	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': mult = 1ULL << 10; end++; break;
	case 'M': mult = 1ULL << 20; end++; break;
	case 'G': mult = 1ULL << 30; end++; break;
	case 'T': mult = 1ULL << 40; end++; break;
	default: return -EINVAL;
	}
	/* Accept "16MB", "16MiB" as well as "16M". */
	if (mult > 1 && (!strcmp(end, "B") || !strcmp(end, "iB") || !strcmp(end, "b")))
		end += strlen(end);
	if (*end)
		return -EINVAL;
	if (v * mult > 1.8e19)
		return -ERANGE;
	*out = (uint64_t)(v * mult);
	return 0;
}

int mx_parse_percent(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || strcmp(end, "%") || !isfinite(v))
		return -EINVAL;
	if (v < 0 || v > 100)
		return -ERANGE;
	*out = v;
	return 0;
}

int mx_parse_size(const char *s, bool allow_percent, struct mx_size *out)
{
	size_t n = strlen(s);
	int ret;

	memset(out, 0, sizeof(*out));
	if (n && s[n - 1] == '%') {
		if (!allow_percent)
			return -EINVAL;
		ret = mx_parse_percent(s, &out->percent);
		if (ret)
			return ret;
		out->is_percent = true;
		out->set = true;
		return 0;
	}
	ret = mx_parse_bytes(s, &out->bytes);
	if (ret)
		return ret;
	out->set = true;
	return 0;
}

/* "250ms", "10s", "2m", "1h"; a bare number is seconds. */
int mx_parse_duration_ms(const char *s, uint64_t *out)
{
	char *end;
	double v, mult;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		mult = 1;
	else if (!strcmp(end, "s") || !*end)
		mult = 1000;
	else if (!strcmp(end, "m"))
		mult = 60000;
	else if (!strcmp(end, "h"))
		mult = 3600000;
	else
		return -EINVAL;
	if (v * mult > 1e15)
		return -ERANGE;
	*out = (uint64_t)(v * mult);
	return 0;
}

uint64_t mx_size_resolve(const struct mx_size *sz, uint64_t reference)
{
	if (!sz->set)
		return 0;
	if (!sz->is_percent)
		return sz->bytes;
	return (uint64_t)((double)reference * sz->percent / 100.0);
}

void mx_format_bytes(uint64_t bytes, char *buf, size_t len)
{
	if (bytes == MX_UNLIMITED)
		snprintf(buf, len, "max");
	else if (bytes >= 10ULL << 30)
		snprintf(buf, len, "%.1fG", bytes / 1073741824.0);
	else if (bytes >= 10ULL << 20)
		snprintf(buf, len, "%.0fM", bytes / 1048576.0);
	else if (bytes >= 1ULL << 20)
		snprintf(buf, len, "%.1fM", bytes / 1048576.0);
	else
		snprintf(buf, len, "%.0fK", bytes / 1024.0);
}

uint64_t mx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double mx_wall_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

ssize_t mx_read_file(const char *path, char *buf, size_t len)
{
	ssize_t n, total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((size_t)total < len - 1) {
		n = read(fd, buf + total, len - 1 - total);
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (!n)
			break;
		total += n;
	}
	buf[total] = '\0';
	close(fd);
	return total;
}

int mx_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int ret = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int mx_read_u64(const char *path, uint64_t *out)
{
	char buf[64];
	ssize_t n = mx_read_file(path, buf, sizeof(buf));

	if (n < 0)
		return n;
	buf[strcspn(buf, "\n")] = '\0';
	if (!strcmp(buf, "max")) {
		*out = MX_UNLIMITED;
		return 0;
	}
	if (sscanf(buf, "%" SCNu64, out) != 1)
		return -EINVAL;
	return 0;
}
