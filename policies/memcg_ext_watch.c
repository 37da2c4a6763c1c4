// SPDX-License-Identifier: GPL-2.0
/*
 * Loader of the memcg_ext_watch policy: every interval, print one line per
 * memcg whose limits charges ran into since the last line, with what the
 * policy saw (usage and limits at the last event) and what it decided; at
 * exit, print the totals per memcg.
 */
#include <libgen.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <memcg_ext/common.h>
#include "memcg_ext_watch.h"
#include "memcg_ext_watch.bpf.skel.h"

static const char help_fmt[] =
"memcg_ext_watch: show the memcg limit events a policy sees, live.\n"
"\n"
"Usage: %s [-i SECONDS] [-d SECONDS] [-q] [-v]\n"
"\n"
"  -i SECONDS  interval between reports (default 1)\n"
"  -d SECONDS  detach and exit after SECONDS\n"
"  -q          no live lines, only the totals at exit\n"
"  -v          print libbpf debug messages\n"
"  -h          show this help\n";

static const char *const decision_names[] = { "default", "defer" };

struct seen {
	u64 id;
	struct watch_memcg last;
	char path[PATH_MAX];
};

static struct seen *seen;
static size_t nr_seen;

static struct seen *seen_get(u64 id)
{
	struct seen *s;

	for (size_t i = 0; i < nr_seen; i++)
		if (seen[i].id == id)
			return &seen[i];
	s = realloc(seen, (nr_seen + 1) * sizeof(*seen));
	MX_BUG_ON(!s, "out of memory");
	seen = s;
	s = &seen[nr_seen++];
	memset(s, 0, sizeof(*s));
	s->id = id;
	return s;
}

static const char *seen_path(struct seen *s)
{
	if (!s->path[0] &&
	    mx_cgroup_path(MX_CGROUP_ROOT, s->id, s->path, sizeof(s->path)))
		snprintf(s->path, sizeof(s->path), "cgroup id %llu",
			 (unsigned long long)s->id);
	return s->path;
}

static void report(struct memcg_ext_watch *skel, double t, bool live)
{
	int fd = bpf_map__fd(skel->maps.memcgs);
	u64 key, next, *prev = NULL;
	struct watch_memcg w;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &w))
			continue;

		struct seen *s = seen_get(key);
		u64 d[WATCH_NR_EVENTS];
		bool changed = false;
		char u[16], h[16], m[16];

		for (int e = 0; e < WATCH_NR_EVENTS; e++) {
			d[e] = w.events[e] - s->last.events[e];
			changed |= d[e] != 0;
		}
		if (changed && live) {
			printf("%7.1fs %s: high +%llu, swap_high +%llu, max +%llu"
			       " | saw usage %s, high %s, max %s | decided %s\n",
			       t, seen_path(s), (unsigned long long)d[0],
			       (unsigned long long)d[1], (unsigned long long)d[2],
			       mx_fmt_bytes(w.usage, u, sizeof(u)),
			       mx_fmt_bytes(w.high, h, sizeof(h)),
			       mx_fmt_bytes(w.max, m, sizeof(m)),
			       w.decision >= 0 && w.decision < 2 ?
			       decision_names[w.decision] : "?");
		}
		if (!s->path[0] && w.online)
			seen_path(s);	/* resolve while the cgroup exists */
		s->last = w;
		/* Shown for the last time: make room for new memcgs. */
		if (!w.online && !changed)
			bpf_map_delete_elem(fd, &key);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct memcg_ext_watch *skel;
	struct bpf_link *link;
	unsigned int interval = 1, duration = 0;
	bool verbose = false, quiet = false;
	struct timespec start, now;
	int opt, ret;

	while ((opt = getopt(argc, argv, "i:d:qvh")) != -1) {
		switch (opt) {
		case 'i':
			interval = mx_parse_uint(optarg, "-i", 86400) ?: 1;
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

	skel = MX_OPS_OPEN(memcg_ext_watch);
	MX_OPS_LOAD(skel, memcg_ext_watch);
	link = MX_OPS_ATTACH(skel, memcg_ext_watch, watch_ops);
	printf("memcg_ext_watch: attached\n");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &start);

	while (!mx_exit_req && !MEI_EXITED(skel, mei)) {
		double t;

		sleep(interval);
		clock_gettime(CLOCK_MONOTONIC, &now);
		t = (now.tv_sec - start.tv_sec) +
		    (now.tv_nsec - start.tv_nsec) / 1e9;
		report(skel, t, !quiet);
		if (duration && t >= duration)
			break;
	}

	bpf_link__destroy(link);
	report(skel, 0, false);
	for (size_t i = 0; i < nr_seen; i++) {
		struct watch_memcg *w = &seen[i].last;

		if (!w->events[0] && !w->events[1] && !w->events[2])
			continue;
		printf("total %s id=%llu high=%llu swap_high=%llu max=%llu\n",
		       seen_path(&seen[i]), (unsigned long long)seen[i].id,
		       w->events[0], w->events[1], w->events[2]);
	}
	if (skel->bss->nr_dropped)
		printf("events for memcgs the map had no room for: %llu\n",
		       (unsigned long long)skel->bss->nr_dropped);
	fflush(stdout);
	MEI_REPORT(skel, mei);
	ret = MEI_ERROR(skel, mei) ? EXIT_FAILURE : EXIT_SUCCESS;
	memcg_ext_watch__destroy(skel);
	free(seen);
	return ret;
}
