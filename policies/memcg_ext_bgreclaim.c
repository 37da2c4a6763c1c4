// SPDX-License-Identifier: GPL-2.0
/*
 * Loader of memcg_ext_bgreclaim: attach the policy, point it at the
 * memcgs with a limit (all of them, or those given with -c) and keep their
 * watermarks in step with their limits; print every watermark crossing
 * and reclaim request as the policy reports it, and a summary per memcg
 * at exit.
 */
#define _GNU_SOURCE	/* nftw() */
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <memcg_ext/common.h>
#include "memcg_ext_bgreclaim.h"
#include "memcg_ext_bgreclaim.bpf.skel.h"

static const char help_fmt[] =
"memcg_ext_bgreclaim: background reclaim for memcgs near their limit.\n"
"\n"
"Usage: %s [-c CGROUP]... [-t CGROUP:PID]... [-H PCT] [-L PCT] [-g BYTES]\n"
"          [-p PASSES] [-l MS] [-r BYTES] [-n] [-i MS] [-d SECONDS] [-q] [-v]\n"
"\n"
"  -c CGROUP      manage this cgroup (path); default: every cgroup with a\n"
"                 limit, rescanned every interval\n"
"  -t CGROUP:PID  reclaim process PID's memory first in CGROUP\n"
"  -H PCT         high watermark: PCT %% below the limit (default 6)\n"
"  -L PCT         low watermark: PCT %% of the limit below the high (default 8)\n"
"  -g BYTES       minimum of each gap (default 2M)\n"
"  -p PASSES      most parallel passes per memcg (default 2)\n"
"  -l MS          reclaim ahead of the charge rate by MS (default 100)\n"
"  -r BYTES       charge rate one pass is assumed to keep up with, per\n"
"                 second (default 128M)\n"
"  -n             reclaim without swapping\n"
"  -i MS          how often limits are rechecked (default 500)\n"
"  -d SECONDS     detach and exit after SECONDS\n"
"  -q             no line per event, only the summary at exit\n"
"  -v             print libbpf debug messages\n"
"  -h             show this help\n";

#define MAX_CGROUPS	64
#define MAX_TARGETS	16

static const char *cgroups[MAX_CGROUPS];
static int nr_cgroups;
static struct {
	const char *cgroup;
	int pid;
} targets[MAX_TARGETS];
static int nr_targets;

static struct memcg_ext_bgreclaim *skel;
static bool quiet;
static struct timespec start;

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - start.tv_sec) + (t.tv_nsec - start.tv_nsec) / 1e9;
}

static int run_syscall_prog(struct bpf_program *prog, void *ctx, size_t size)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx,
		    .ctx_size_in = size);

	return bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
}

/* (Re)configure one cgroup; returns the program's verdict. */
static int configure(const char *path, bool loud)
{
	struct bgr_configure_args a = { .cgid = mx_cgroup_id(path) };

	if ((s64)a.cgid <= 0) {
		if (loud)
			fprintf(stderr, "memcg_ext_bgreclaim: %s: not a cgroup\n",
				path);
		return -ENOENT;
	}
	if (run_syscall_prog(skel->progs.bgr_configure, &a, sizeof(a)))
		return -errno;
	if (loud && a.ret < 0)
		fprintf(stderr, "memcg_ext_bgreclaim: %s: %s\n", path,
			strerror(-a.ret));
	if (loud && a.ret == 0)
		fprintf(stderr, "memcg_ext_bgreclaim: %s: no limit (or too "
			"small for the gaps), not managed for now\n", path);
	return a.ret;
}

static int configure_one(const char *path, const struct stat *st, int type,
			 struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_D && strcmp(path, MX_CGROUP_ROOT))
		configure(path, false);
	return 0;
}

static void configure_all(bool loud)
{
	if (nr_cgroups) {
		for (int i = 0; i < nr_cgroups; i++)
			configure(cgroups[i], loud);
		return;
	}
	nftw(MX_CGROUP_ROOT, configure_one, 16, FTW_PHYS);
}

static void add_targets(void)
{
	for (int i = 0; i < nr_targets; i++) {
		struct bgr_target_args a = {
			.cgid = mx_cgroup_id(targets[i].cgroup),
			.tgid = targets[i].pid,
			.add = 1,
		};

		MX_BUG_ON((s64)a.cgid <= 0, "%s: not a cgroup", targets[i].cgroup);
		MX_BUG_ON(run_syscall_prog(skel->progs.bgr_target, &a, sizeof(a)),
			  "cannot run bgr_target");
		if (a.ret) {
			errno = -a.ret;
			MX_BUG("cannot target pid %d in %s", targets[i].pid,
			       targets[i].cgroup);
		}
		printf("memcg_ext_bgreclaim: pid %d's memory goes first in %s\n",
		       targets[i].pid, targets[i].cgroup);
	}
}

static const char *path_of(u64 cgid, char *buf, size_t len)
{
	if (mx_cgroup_path(MX_CGROUP_ROOT, cgid, buf, len))
		snprintf(buf, len, "cgroup %llu", (unsigned long long)cgid);
	return buf;
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct bgr_event *e = data;
	char path[PATH_MAX], u[16], a[16], r[16];

	(void)ctx;
	if (quiet || size < sizeof(*e))
		return 0;
	path_of(e->cgid, path, sizeof(path));
	mx_fmt_bytes(e->usage, u, sizeof(u));
	switch (e->kind) {
	case BGR_EV_RISE:
	case BGR_EV_LIMIT:
		mx_fmt_bytes(e->amount, a, sizeof(a));
		mx_fmt_bytes(e->rate, r, sizeof(r));
		printf("%8.3fs %s: %s at %s: reclaim %s, %u pass%s, rate %s/s%s%s\n",
		       now_s(), path,
		       e->kind == BGR_EV_RISE ? "high watermark" : "limit hit",
		       u, a, e->passes, e->passes == 1 ? "" : "es", r,
		       e->err ? ", error: " : "", e->err ? strerror(-e->err) : "");
		break;
	case BGR_EV_FALL:
		printf("%8.3fs %s: below low watermark at %s\n", now_s(), path, u);
		break;
	}
	return 0;
}

static void summary(void)
{
	int fd = bpf_map__fd(skel->maps.bgr_memcgs);
	u64 key, next, *prev = NULL;
	struct bgr_memcg m;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		char path[PATH_MAX], l[16], h[16], lo[16];

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &m))
			continue;
		printf("total %s limit=%s high_wm=%s low_wm=%s rises=%llu "
		       "falls=%llu kicks=%llu kick_errors=%llu limit_events=%llu\n",
		       path_of(key, path, sizeof(path)),
		       mx_fmt_bytes(m.limit, l, sizeof(l)),
		       mx_fmt_bytes(m.high_wm, h, sizeof(h)),
		       mx_fmt_bytes(m.low_wm, lo, sizeof(lo)),
		       m.rises, m.falls, m.kicks, m.kick_errors, m.limit_events);
	}
}

int main(int argc, char **argv)
{
	unsigned int interval_ms = 500, duration = 0;
	struct ring_buffer *rb;
	struct bpf_link *link;
	bool verbose = false;
	double last_scan;
	char *colon;
	int opt;

	skel = MX_OPS_OPEN(memcg_ext_bgreclaim);

	while ((opt = getopt(argc, argv, "c:t:H:L:g:p:l:r:ni:d:qvh")) != -1) {
		switch (opt) {
		case 'c':
			MX_BUG_ON(nr_cgroups == MAX_CGROUPS, "too many -c");
			cgroups[nr_cgroups++] = optarg;
			break;
		case 't':
			MX_BUG_ON(nr_targets == MAX_TARGETS, "too many -t");
			colon = strrchr(optarg, ':');
			MX_BUG_ON(!colon, "-t wants CGROUP:PID, not '%s'", optarg);
			*colon = '\0';
			targets[nr_targets].cgroup = optarg;
			targets[nr_targets++].pid = mx_parse_uint(colon + 1, "pid",
							       INT32_MAX);
			break;
		case 'H':
			skel->rodata->high_gap_pct = mx_parse_uint(optarg, "-H", 50);
			break;
		case 'L':
			skel->rodata->low_gap_pct = mx_parse_uint(optarg, "-L", 50);
			break;
		case 'g':
			skel->rodata->min_gap = mx_parse_bytes(optarg, "-g");
			break;
		case 'p':
			skel->rodata->max_passes = mx_parse_uint(optarg, "-p", 64);
			MX_BUG_ON(!skel->rodata->max_passes, "-p must be at least 1");
			break;
		case 'l':
			skel->rodata->lookahead_ms = mx_parse_uint(optarg, "-l", 10000);
			break;
		case 'r':
			skel->rodata->pass_rate = mx_parse_bytes(optarg, "-r");
			MX_BUG_ON(!skel->rodata->pass_rate, "-r must not be 0");
			break;
		case 'n':
			skel->rodata->bg_flags = BGR_NOSWAP;
			break;
		case 'i':
			interval_ms = mx_parse_uint(optarg, "-i", 3600000) ?: 500;
			break;
		case 'd':
			duration = mx_parse_uint(optarg, "-d", 86400 * 365);
			break;
		case 'q':
			quiet = true;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			fprintf(stderr, help_fmt, basename(argv[0]));
			return opt != 'h';
		}
	}

	mx_set_verbose(verbose);
	mx_setup_signals();

	MX_OPS_LOAD(skel, memcg_ext_bgreclaim);
	link = MX_OPS_ATTACH(skel, memcg_ext_bgreclaim, bgreclaim_ops);
	clock_gettime(CLOCK_MONOTONIC, &start);

	configure_all(true);
	add_targets();
	rb = ring_buffer__new(bpf_map__fd(skel->maps.bgr_events), on_event,
			      NULL, NULL);
	MX_BUG_ON(!rb, "cannot open the event ring buffer");
	printf("memcg_ext_bgreclaim: attached\n");
	fflush(stdout);

	/* Woken by events (epoll on the ring buffer); rescans on a timer. */
	last_scan = now_s();
	while (!mx_exit_req && !MEI_EXITED(skel, mei)) {
		int n = ring_buffer__poll(rb, interval_ms);

		if (n < 0 && n != -EINTR)
			MX_BUG("ring buffer poll failed (%d)", n);
		fflush(stdout);
		if (now_s() - last_scan >= interval_ms / 1000.0) {
			configure_all(false);
			last_scan = now_s();
		}
		if (duration && now_s() >= duration)
			break;
	}

	ring_buffer__consume(rb);
	summary();
	ring_buffer__free(rb);
	bpf_link__destroy(link);
	MEI_REPORT(skel, mei);
	opt = MEI_ERROR(skel, mei) ? EXIT_FAILURE : EXIT_SUCCESS;
	memcg_ext_bgreclaim__destroy(skel);
	return opt;
}
