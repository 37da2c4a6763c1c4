// SPDX-License-Identifier: GPL-2.0
/*
 * memcg_ext_agent_testload: a workload with known memory behaviour for the
 * agent's VM tests, and a minimal client of the load-shedding protocol
 * (docs/PROTOCOL.md) written straight from the spec, without the client
 * library, to test the agent's side on its own.
 *
 *   --hot SIZE      touched all the time (the working set)
 *   --cold SIZE     touched once at start, then left alone
 *   --leak SIZE     grow by SIZE per second, without end (up to --leak-max)
 *   --socket PATH   connect to the agent, HELLO + SUBSCRIBE, print every line
 *   --workload NAME name to give in HELLO (default: the agent maps our cgroup)
 *   --shed free|ignore   on SHED: free cold/leaked memory and say FREED, or
 *                   answer FREED bytes=0 (default free)
 *   --metric NAME   send METRIC NAME=<hot-set passes per second> every second
 *   --duration SEC  exit after SEC seconds (default: run until killed)
 *   --compressible  fill memory with a compressible pattern (zram shrinks it)
 *   --send LINE     send LINE to the agent after HELLO (protocol tests)
 *
 * Memory is in 1 MiB mmap() chunks filled with non-zero bytes (zero pages
 * are not kept by zram), so freeing a chunk really returns it.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1UL << 20)
#define MAX_CHUNKS 4096

static char *hot[MAX_CHUNKS], *spare[MAX_CHUNKS];
static int nr_hot, nr_spare;
static int sock = -1;
static unsigned long seed = 88172645463325252UL;
static bool compressible;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	switch (*end) {
	case 'K': case 'k': return v * 1024;
	case 'M': case 'm': return v * CHUNK;
	case 'G': case 'g': return v * 1024 * CHUNK;
	}
	return v;
}

static char *chunk_new(void)
{
	char *p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	if (compressible) {
		/* Non-zero (zero pages never reach zram) but compressible. */
		for (i = 0; i < CHUNK; i += 64)
			memset(p + i, (int)(1 + (i >> 12) % 200), 64);
		return p;
	}
	/* xorshift bytes: incompressible, zram keeps whole pages. */
	for (i = 0; i < CHUNK; i += 8) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		memcpy(p + i, &seed, 8);
	}
	return p;
}

static void say(const char *fmt, ...)
{
	va_list ap;

	printf("[%.1f] ", now());
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void send_line(const char *fmt, ...)
{
	char line[1025];
	va_list ap;
	int n;

	if (sock < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	if (write(sock, line, n) != n)
		say("send failed: %s", strerror(errno));
	line[n - 1] = '\0';
	say("> %s", line);
}

static unsigned long kv(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	return p ? strtoul(p + strlen(key), NULL, 10) : 0;
}

static void on_line(const char *line, bool free_on_shed)
{
	unsigned long id, bytes, freed = 0;

	say("< %s", line);
	if (strncmp(line, "SHED ", 5))
		return;
	id = kv(line, " id=");
	bytes = kv(line, " bytes=");
	if (free_on_shed)
		while (freed < bytes && nr_spare > 0) {
			munmap(spare[--nr_spare], CHUNK);
			freed += CHUNK;
		}
	send_line("FREED id=%lu bytes=%lu", id, freed);
}

int main(int argc, char **argv)
{
	unsigned long hot_bytes = 0, cold_bytes = 0, leak_rate = 0, leak_max = ~0UL;
	const char *path = NULL, *workload = NULL, *metric = NULL, *extra = NULL;
	double duration = 0, start, last_sec, leak_due = 0;
	bool free_on_shed = true;
	char rbuf[4096];
	size_t rlen = 0;
	unsigned long passes = 0, pos = 0;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--compressible")) {
			compressible = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "%s: missing value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--hot")) hot_bytes = parse_size(v);
		else if (!strcmp(a, "--cold")) cold_bytes = parse_size(v);
		else if (!strcmp(a, "--leak")) leak_rate = parse_size(v);
		else if (!strcmp(a, "--leak-max")) leak_max = parse_size(v);
		else if (!strcmp(a, "--socket")) path = v;
		else if (!strcmp(a, "--workload")) workload = v;
		else if (!strcmp(a, "--shed")) free_on_shed = !strcmp(v, "free");
		else if (!strcmp(a, "--metric")) metric = v;
		else if (!strcmp(a, "--duration")) duration = atof(v);
		else if (!strcmp(a, "--send")) extra = v;
		else {
			fprintf(stderr, "unknown option %s\n", a);
			return 2;
		}
	}
	for (i = 0; i < (int)(cold_bytes / CHUNK) && nr_spare < MAX_CHUNKS; i++)
		spare[nr_spare++] = chunk_new();
	for (i = 0; i < (int)(hot_bytes / CHUNK) && nr_hot < MAX_CHUNKS; i++)
		hot[nr_hot++] = chunk_new();
	say("ready: hot %d MiB, cold %d MiB, leak %lu KiB/s", nr_hot, nr_spare, leak_rate >> 10);
	if (path) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		sock = socket(AF_UNIX, SOCK_STREAM, 0);
		for (i = 0; i < 50; i++) {
			if (!connect(sock, (struct sockaddr *)&sa, sizeof(sa)))
				break;
			usleep(100000);
		}
		if (i == 50) {
			say("cannot connect to %s: %s", path, strerror(errno));
			return 1;
		}
		if (workload)
			send_line("HELLO version=1 workload=%s", workload);
		else
			send_line("HELLO version=1");
		if (extra)
			send_line("%s", extra);
		send_line("SUBSCRIBE interval_ms=1000");
	}
	start = last_sec = leak_due = now();
	for (;;) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		double t = now();
		int k;

		/* Touch 1 MiB of the hot set per slice: one byte per page. */
		if (nr_hot) {
			char *c = hot[pos % nr_hot];

			for (k = 0; k < (int)CHUNK; k += 4096)
				c[k]++;
			if (++pos % nr_hot == 0)
				passes++;
		}
		if (leak_rate && t >= leak_due &&
		    (unsigned long)(nr_spare + nr_hot) * CHUNK < leak_max && nr_spare < MAX_CHUNKS) {
			spare[nr_spare++] = chunk_new();
			leak_due += (double)CHUNK / leak_rate;
		}
		if (t - last_sec >= 1) {
			if (metric)
				send_line("METRIC name=%s value=%.2f", metric, passes / (t - last_sec));
			passes = 0;
			last_sec = t;
		}
		if (duration && t - start >= duration)
			break;
		if (poll(&pfd, sock >= 0 ? 1 : 0, nr_hot ? 0 : 20) > 0) {
			ssize_t n = read(sock, rbuf + rlen, sizeof(rbuf) - 1 - rlen);
			char *nl;

			if (n <= 0) {
				say("agent closed the connection");
				close(sock);
				sock = -1;
				continue;
			}
			rlen += n;
			rbuf[rlen] = '\0';
			while ((nl = strchr(rbuf, '\n'))) {
				*nl = '\0';
				on_line(rbuf, free_on_shed);
				rlen -= nl + 1 - rbuf;
				memmove(rbuf, nl + 1, rlen + 1);
			}
		}
	}
	if (sock >= 0)
		send_line("BYE");
	say("done");
	return 0;
}
