// SPDX-License-Identifier: GPL-2.0
/*
 * memcg_ext_workload: steady allocators for the VM tests and benchmarks.
 *
 *   anon TOTAL_MB WS_MB RATE_MBPS
 *	Allocate TOTAL_MB of anonymous memory, 1 MiB at a time at RATE_MBPS,
 *	dirtying it with non-zero data (zero pages never reach zram), and
 *	after each MiB touch the last WS_MB again: the working set fits a
 *	limit that the total does not.
 *   file PATH TOTAL_MB RATE_MBPS
 *	Write TOTAL_MB to PATH (page cache), 1 MiB at a time at RATE_MBPS.
 *   hot SIZE_MB PERIOD_MS SECONDS
 *	Dirty SIZE_MB, then read one byte per page of it every PERIOD_MS for
 *	SECONDS; report the swap-ins it suffered (major faults).
 *
 * Each prints one "workload: ..." line with what it did and its major
 * faults, and exits 0 on success.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MB (1024UL * 1024)
#define PAGE 4096UL

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep until @start + @done_mb / @rate seconds. */
static void pace(double start, unsigned long done_mb, unsigned long rate)
{
	double due = start + (double)done_mb / rate, d = due - now();

	if (d > 0) {
		struct timespec ts = { (time_t)d, (long)((d - (time_t)d) * 1e9) };

		nanosleep(&ts, NULL);
	}
}

static long majflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_majflt;
}

static unsigned long arg_ul(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || !v) {
		fprintf(stderr, "workload: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static int run_anon(unsigned long total, unsigned long ws, unsigned long rate)
{
	char *p = mmap(NULL, total * MB, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double start = now();

	if (p == MAP_FAILED) {
		perror("workload: mmap");
		return 1;
	}
	madvise(p, total * MB, MADV_NOHUGEPAGE);
	for (unsigned long mb = 0; mb < total; mb++) {
		char *chunk = p + mb * MB;
		unsigned long from = mb + 1 > ws ? mb + 1 - ws : 0;

		for (unsigned long i = 0; i < MB; i += PAGE)
			chunk[i] = (char)(mb + i / PAGE) | 1;
		for (unsigned long i = from * MB; i < mb * MB; i += PAGE)
			p[i]++;
		pace(start, mb + 1, rate);
	}
	printf("workload: anon %lu MiB (working set %lu MiB) in %.2f s, "
	       "majflt %ld\n", total, ws, now() - start, majflt());
	return 0;
}

static int run_file(const char *path, unsigned long total, unsigned long rate)
{
	static char buf[MB];
	double start = now();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0) {
		perror("workload: open");
		return 1;
	}
	for (unsigned long mb = 0; mb < total; mb++) {
		memset(buf, (int)(mb | 1), sizeof(buf));
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
			perror("workload: write");
			return 1;
		}
		pace(start, mb + 1, rate);
	}
	close(fd);
	printf("workload: file %lu MiB in %.2f s, majflt %ld\n", total,
	       now() - start, majflt());
	return 0;
}

static int run_hot(unsigned long size, unsigned long period_ms,
		   unsigned long seconds)
{
	char *p = mmap(NULL, size * MB, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double start, end;
	long flt0;
	unsigned long sum = 0;

	if (p == MAP_FAILED) {
		perror("workload: mmap");
		return 1;
	}
	madvise(p, size * MB, MADV_NOHUGEPAGE);
	for (unsigned long i = 0; i < size * MB; i += PAGE)
		p[i] = (char)(i / PAGE) | 1;
	printf("workload: hot %lu MiB ready\n", size);
	fflush(stdout);
	flt0 = majflt();
	start = now();
	end = start + seconds;
	while (now() < end) {
		struct timespec ts = { period_ms / 1000,
				       (period_ms % 1000) * 1000000 };

		for (unsigned long i = 0; i < size * MB; i += PAGE)
			sum += (unsigned char)p[i];
		nanosleep(&ts, NULL);
	}
	printf("workload: hot %lu MiB for %lu s, majflt %ld (sum %lu)\n", size,
	       seconds, majflt() - flt0, sum & 1);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && !strcmp(argv[1], "anon"))
		return run_anon(arg_ul(argv[2], "TOTAL_MB"),
				arg_ul(argv[3], "WS_MB"),
				arg_ul(argv[4], "RATE_MBPS"));
	if (argc == 5 && !strcmp(argv[1], "file"))
		return run_file(argv[2], arg_ul(argv[3], "TOTAL_MB"),
				arg_ul(argv[4], "RATE_MBPS"));
	if (argc == 5 && !strcmp(argv[1], "hot"))
		return run_hot(arg_ul(argv[2], "SIZE_MB"),
			       arg_ul(argv[3], "PERIOD_MS"),
			       arg_ul(argv[4], "SECONDS"));
	fprintf(stderr,
		"usage: memcg_ext_workload anon TOTAL_MB WS_MB RATE_MBPS\n"
		"       memcg_ext_workload file PATH TOTAL_MB RATE_MBPS\n"
		"       memcg_ext_workload hot SIZE_MB PERIOD_MS SECONDS\n");
	return 2;
}
