// SPDX-License-Identifier: GPL-2.0
/*
 * Loader of memcg_ext_prio: attach the policy, set the tiers of the
 * cgroups given with -c (and their overdraft cap with -o), take thread
 * registrations from workloads on a Unix socket, and kill a cgroup whose
 * usage reached its T3, saying why.
 *
 * Registration is how an unprivileged thread tells the policy where its
 * thread word is (class, critical-section depth). The socket is open to
 * everyone; the peer's credentials, which the kernel vouches for, decide
 * what it may do: only register threads of its own process. It cannot
 * touch another process's threads, let alone another cgroup's.
 */
#define _GNU_SOURCE	/* SO_PEERCRED, struct ucred */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <memcg_ext/common.h>
#include "memcg_ext_prio.h"
#include "memcg_ext_prio.bpf.skel.h"

static const char help_fmt[] =
"memcg_ext_prio: thread classes, lock-aware enforcement, tiered escalation.\n"
"\n"
"Usage: %s [-c CGROUP[:T1[:T2[:T3]]]]... [-a] [-o BYTES] [-n NAME=CLASS]...\n"
"          [-s SOCKET] [-m MS] [-M MS] [-P MS] [-k FILE] [-d SECONDS] [-q] [-v]\n"
"\n"
"  -c CGROUP:T1:T2:T3  manage CGROUP; above T1 background reclaim, above T2\n"
"                 normal threads are throttled too, at T3 the cgroup is\n"
"                 killed (bytes, K/M/G suffixes; '-' or nothing: off)\n"
"  -a             manage every cgroup (classes and lock awareness, no tiers);\n"
"                 the default when no -c is given\n"
"  -o BYTES       set memory.ext.overdraft of every -c cgroup to BYTES\n"
"  -n NAME=CLASS  threads whose name starts with NAME are CLASS: normal,\n"
"                 never (never throttled) or first (throttled first)\n"
"  -s SOCKET      registration socket (default " "/run/memcg_ext/prio.sock"
"; '-': none)\n"
"  -m MS          throttle of throttle-first threads (default 20)\n"
"  -M MS          longest throttle, reached at T3 (default 200)\n"
"  -P MS          a thread is throttled at most once per MS (default 100)\n"
"  -k FILE        append a JSON line per kill to FILE\n"
"  -d SECONDS     detach and exit after SECONDS\n"
"  -q             no line per event\n"
"  -v             print libbpf debug messages\n"
"  -h             show this help\n";

#define MAX_CGROUPS	64
#define MAX_CLIENTS	32
#define DEFAULT_SOCKET	"/run/memcg_ext/prio.sock"

static struct {
	const char *path;
	u64 t1, t2, t3;
	u64 cgid;
} cgroups[MAX_CGROUPS];
static int nr_cgroups;

static struct {
	int fd;
	size_t len;
	char buf[128];
} clients[MAX_CLIENTS];

static struct memcg_ext_prio *skel;
static const char *kill_log;
static bool quiet;

static const char *const class_names[PRIO_NR_CLASSES] = {
	[PRIO_CLASS_UNSET]	= "none",
	[PRIO_CLASS_NORMAL]	= "normal",
	[PRIO_CLASS_NEVER]	= "never",
	[PRIO_CLASS_FIRST]	= "first",
};

static unsigned int parse_class(const char *s)
{
	for (unsigned int c = PRIO_CLASS_NORMAL; c < PRIO_NR_CLASSES; c++)
		if (!strcmp(s, class_names[c]))
			return c;
	MX_BUG("unknown thread class '%s' (normal, never or first)", s);
}

/* "-", "" or a size. */
static u64 parse_tier(const char *s, const char *what)
{
	if (!*s || !strcmp(s, "-"))
		return 0;
	return mx_parse_bytes(s, what);
}

/* -c CGROUP[:T1[:T2[:T3]]]; a path relative to the cgroup root is fine. */
static void add_cgroup(char *arg)
{
	char *tier[3] = { "", "", "" }, *rest = arg, *path;
	int i;

	MX_BUG_ON(nr_cgroups == MAX_CGROUPS, "too many -c");
	path = strsep(&rest, ":");
	for (i = 0; i < 3 && rest; i++)
		tier[i] = strsep(&rest, ":");
	MX_BUG_ON(rest, "-c wants CGROUP:T1:T2:T3, not more");
	MX_BUG_ON(!*path, "-c: empty cgroup path");
	if (path[0] == '/') {
		cgroups[nr_cgroups].path = path;
	} else {
		char *p;

		MX_BUG_ON(asprintf(&p, "%s/%s", MX_CGROUP_ROOT, path) < 0,
			  "out of memory");
		cgroups[nr_cgroups].path = p;
	}
	cgroups[nr_cgroups].t1 = parse_tier(tier[0], "T1");
	cgroups[nr_cgroups].t2 = parse_tier(tier[1], "T2");
	cgroups[nr_cgroups].t3 = parse_tier(tier[2], "T3");
	nr_cgroups++;
}

static void add_name(char *arg)
{
	char *eq = strchr(arg, '=');
	u32 n = skel->rodata->nr_names;

	MX_BUG_ON(!eq || eq == arg, "-n wants NAME=CLASS, not '%s'", arg);
	MX_BUG_ON(n == PRIO_MAX_NAMES, "at most %d -n rules", PRIO_MAX_NAMES);
	*eq = '\0';
	MX_BUG_ON(strlen(arg) >= PRIO_NAME_LEN, "-n: '%s' is longer than a "
		  "thread name (%d characters)", arg, PRIO_NAME_LEN - 1);
	memcpy((char *)skel->rodata->names[n].prefix, arg, strlen(arg));
	skel->rodata->names[n].len = strlen(arg);
	skel->rodata->names[n].thread_class = parse_class(eq + 1);
	skel->rodata->nr_names = n + 1;
}

static u32 name_class_of(const char *comm)
{
	for (u32 i = 0; i < skel->rodata->nr_names; i++) {
		const volatile struct prio_name *n = &skel->rodata->names[i];

		if (!strncmp(comm, (const char *)n->prefix, n->len))
			return n->thread_class;
	}
	return PRIO_CLASS_UNSET;
}

static int write_file(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void configure(u64 overdraft, bool set_overdraft)
{
	for (int i = 0; i < nr_cgroups; i++) {
		struct prio_configure_args a = {
			.cgid = mx_cgroup_id(cgroups[i].path),
			.t1 = cgroups[i].t1,
			.t2 = cgroups[i].t2,
			.t3 = cgroups[i].t3,
		};
		LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &a,
			    .ctx_size_in = sizeof(a));
		char buf[32];

		MX_BUG_ON((s64)a.cgid <= 0, "%s: not a cgroup", cgroups[i].path);
		cgroups[i].cgid = a.cgid;
		MX_BUG_ON(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.prio_configure),
						 &opts), "cannot run prio_configure");
		if (a.ret) {
			errno = -a.ret;
			MX_BUG("%s: cannot set the tiers%s", cgroups[i].path,
			       a.ret == -EINVAL ? " (want T1 <= T2 <= T3)" : "");
		}
		if (set_overdraft) {
			snprintf(buf, sizeof(buf), "%llu",
				 (unsigned long long)overdraft);
			errno = -write_file(cgroups[i].path,
					    "memory.ext.overdraft", buf);
			MX_BUG_ON(errno, "%s: cannot set memory.ext.overdraft",
				  cgroups[i].path);
		}
	}
}

static const char *path_of(u64 cgid, char *buf, size_t len)
{
	for (int i = 0; i < nr_cgroups; i++)
		if (cgroups[i].cgid == cgid)
			return cgroups[i].path;
	if (mx_cgroup_path(MX_CGROUP_ROOT, cgid, buf, len))
		snprintf(buf, len, "cgroup %llu", (unsigned long long)cgid);
	return buf;
}

/* T3: kill the whole workload, and say why. */
static void kill_cgroup(const struct prio_event *e)
{
	char path[PATH_MAX], u[16], t[16];
	const char *p = path_of(e->cgid, path, sizeof(path));
	int err = write_file(p, "cgroup.kill", "1");
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	mx_fmt_bytes(e->usage, u, sizeof(u));
	mx_fmt_bytes(e->threshold, t, sizeof(t));
	printf("memcg_ext_prio: %s %s: usage %s reached T3 %s%s%s\n",
	       err ? "cannot kill" : "killed", p, u, t,
	       err ? ": " : "", err ? strerror(-err) : "");
	if (kill_log) {
		FILE *f = fopen(kill_log, "a");

		if (f) {
			fprintf(f, "{\"time\":%lld.%03ld,\"cgroup\":\"%s\","
				"\"action\":\"%s\",\"usage\":%llu,\"t3\":%llu,"
				"\"reason\":\"usage %s reached T3 %s\"%s%s%s}\n",
				(long long)now.tv_sec, now.tv_nsec / 1000000, p,
				err ? "kill_failed" : "killed", e->usage,
				e->threshold, u, t, err ? ",\"error\":\"" : "",
				err ? strerror(-err) : "", err ? "\"" : "");
			fclose(f);
		}
	}
}

static int on_event(void *ctx, void *data, size_t size)
{
	static const char *const kinds[] = { "T1", "T2", "T3", "below" };
	const struct prio_event *e = data;
	char path[PATH_MAX], u[16], t[16];

	(void)ctx;
	if (size < sizeof(*e) || e->kind > PRIO_EV_BELOW)
		return 0;
	if (e->kind == PRIO_EV_T3) {
		kill_cgroup(e);
		return 0;
	}
	if (!quiet)
		printf("memcg_ext_prio: %s: usage %s %s %s\n",
		       path_of(e->cgid, path, sizeof(path)),
		       mx_fmt_bytes(e->usage, u, sizeof(u)),
		       e->kind == PRIO_EV_BELOW ? "fell below" : "reached",
		       e->kind == PRIO_EV_BELOW ?
		       mx_fmt_bytes(e->threshold, t, sizeof(t)) : kinds[e->kind]);
	return 0;
}

/* Is @tid a thread of process @pid? */
static bool thread_of(pid_t pid, unsigned long tid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/task/%lu", pid, tid);
	return !stat(path, &st);
}

static bool parse_ulong(const char *s, int base, unsigned long *out)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*out = strtoul(s, &end, base);
	return !errno && !*end && s[0] != '-';
}

/* One request line from a client; writes the reply to @reply. */
static void handle_line(int fd, char *line, char *reply, size_t len)
{
	int map = bpf_map__fd(skel->maps.prio_threads);
	char *verb = strtok(line, " "), *a1 = strtok(NULL, " ");
	char *a2 = strtok(NULL, " "), *extra = strtok(NULL, " ");
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	unsigned long tid, addr;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) || cred.pid <= 0) {
		snprintf(reply, len, "ERR no peer credentials\n");
		return;
	}
	if (!verb || extra) {
		snprintf(reply, len, "ERR bad request\n");
		return;
	}
	if (!parse_ulong(a1, 10, &tid) || !tid || tid > INT32_MAX) {
		snprintf(reply, len, "ERR bad thread id\n");
		return;
	}

	if (!strcmp(verb, "QUERY") && !a2) {
		struct prio_thread t;
		char path[64], comm[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%lu/comm", tid);
		f = fopen(path, "r");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		snprintf(reply, len, "OK registered=%d name_class=%s\n",
			 !bpf_map_lookup_elem(map, &(u32){ tid }, &t),
			 class_names[f ? name_class_of(comm) : PRIO_CLASS_UNSET]);
		return;
	}

	/* Changes: only for the caller's own threads. */
	if (!thread_of(cred.pid, tid)) {
		snprintf(reply, len, "ERR not a thread of the caller\n");
		return;
	}
	if (!strcmp(verb, "REGISTER")) {
		struct prio_thread t = { .tgid = cred.pid };

		if (!parse_ulong(a2, 16, &addr) || !addr ||
		    addr % sizeof(u32)) {
			snprintf(reply, len, "ERR bad address\n");
			return;
		}
		t.word = addr;
		if (bpf_map_update_elem(map, &(u32){ tid }, &t, BPF_ANY)) {
			snprintf(reply, len, "ERR %s\n", strerror(errno));
			return;
		}
		snprintf(reply, len, "OK\n");
	} else if (!strcmp(verb, "UNREGISTER") && !a2) {
		bpf_map_delete_elem(map, &(u32){ tid });
		snprintf(reply, len, "OK\n");
	} else {
		snprintf(reply, len, "ERR bad request\n");
	}
}

static int open_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX];
	int fd;

	MX_BUG_ON(strlen(path) >= sizeof(sa.sun_path), "-s: path too long");
	strcpy(sa.sun_path, path);
	snprintf(dir, sizeof(dir), "%s", path);
	mkdir(dirname(dir), 0755);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	MX_BUG_ON(fd < 0, "socket");
	MX_BUG_ON(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), "cannot bind %s",
		  path);
	/* Anyone may register: the peer credentials decide what. */
	MX_BUG_ON(chmod(path, 0666), "chmod %s", path);
	MX_BUG_ON(listen(fd, 64), "listen");
	return fd;
}

static void drop_client(int ep, int i)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, clients[i].fd, NULL);
	close(clients[i].fd);
	clients[i].fd = -1;
}

static void accept_clients(int ep, int lfd)
{
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct epoll_event ev = { .events = EPOLLIN };
		int i;

		for (i = 0; i < MAX_CLIENTS && clients[i].fd >= 0; i++)
			;
		if (i == MAX_CLIENTS) {
			(void)!write(fd, "ERR busy\n", 9);
			close(fd);
			continue;
		}
		clients[i].fd = fd;
		clients[i].len = 0;
		ev.data.u64 = 2 + i;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

static void serve_client(int ep, int i)
{
	ssize_t n = read(clients[i].fd, clients[i].buf + clients[i].len,
			 sizeof(clients[i].buf) - 1 - clients[i].len);
	char reply[128], *nl;

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			drop_client(ep, i);
		return;
	}
	clients[i].len += n;
	clients[i].buf[clients[i].len] = '\0';
	while ((nl = strchr(clients[i].buf, '\n'))) {
		size_t used = nl + 1 - clients[i].buf;

		*nl = '\0';
		handle_line(clients[i].fd, clients[i].buf, reply, sizeof(reply));
		if (write(clients[i].fd, reply, strlen(reply)) < 0) {
			drop_client(ep, i);
			return;
		}
		memmove(clients[i].buf, nl + 1, clients[i].len - used + 1);
		clients[i].len -= used;
	}
	if (clients[i].len == sizeof(clients[i].buf) - 1) {
		(void)!write(clients[i].fd, "ERR line too long\n", 18);
		drop_client(ep, i);
	}
}

static void summary(void)
{
	int fd = bpf_map__fd(skel->maps.prio_memcgs);
	u64 key, next, *prev = NULL;
	struct prio_memcg m;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		char path[PATH_MAX];

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &m))
			continue;
		printf("total %s allowed(never)=%llu deferred(normal)=%llu "
		       "throttled(normal)=%llu throttled(first)=%llu in_cs=%llu "
		       "in_txn=%llu kicks=%llu kick_errors=%llu t3=%llu\n",
		       path_of(key, path, sizeof(path)),
		       m.allowed[PRIO_CLASS_NEVER], m.deferred[PRIO_CLASS_NORMAL],
		       m.throttled[PRIO_CLASS_NORMAL], m.throttled[PRIO_CLASS_FIRST],
		       m.in_cs, m.in_txn, m.kicks, m.kick_errors, m.t3_events);
	}
}

int main(int argc, char **argv)
{
	const char *sock_path = DEFAULT_SOCKET;
	unsigned int duration = 0;
	bool verbose = false, set_overdraft = false;
	struct epoll_event ev = { .events = EPOLLIN };
	struct timespec start, now;
	u64 overdraft = 0;
	struct ring_buffer *rb;
	struct bpf_link *link;
	int opt, ep, lfd = -1;

	skel = MX_OPS_OPEN(memcg_ext_prio);

	while ((opt = getopt(argc, argv, "c:ao:n:s:m:M:P:k:d:qvh")) != -1) {
		switch (opt) {
		case 'c':
			add_cgroup(optarg);
			break;
		case 'a':
			skel->rodata->manage_all = true;
			break;
		case 'o':
			overdraft = mx_parse_bytes(optarg, "-o");
			set_overdraft = true;
			break;
		case 'n':
			add_name(optarg);
			break;
		case 's':
			sock_path = strcmp(optarg, "-") ? optarg : NULL;
			break;
		case 'm':
			skel->rodata->base_throttle_ms =
				mx_parse_uint(optarg, "-m", 2000);
			break;
		case 'M':
			skel->rodata->max_throttle_ms =
				mx_parse_uint(optarg, "-M", 2000);
			break;
		case 'P':
			skel->rodata->throttle_period_ms =
				mx_parse_uint(optarg, "-P", 60000);
			break;
		case 'k':
			kill_log = optarg;
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
	MX_BUG_ON(optind != argc, "unexpected argument '%s'", argv[optind]);
	MX_BUG_ON(skel->rodata->max_throttle_ms < skel->rodata->base_throttle_ms,
		  "-M must not be below -m");
	MX_BUG_ON(set_overdraft && !nr_cgroups, "-o needs at least one -c");
	if (!nr_cgroups)
		skel->rodata->manage_all = true;

	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	mx_set_verbose(verbose);
	mx_setup_signals();

	MX_OPS_LOAD(skel, memcg_ext_prio);
	link = MX_OPS_ATTACH(skel, memcg_ext_prio, prio_ops);
	configure(overdraft, set_overdraft);

	rb = ring_buffer__new(bpf_map__fd(skel->maps.prio_events), on_event,
			      NULL, NULL);
	MX_BUG_ON(!rb, "cannot open the event ring buffer");
	ep = epoll_create1(EPOLL_CLOEXEC);
	MX_BUG_ON(ep < 0, "epoll_create1");
	ev.data.u64 = 0;
	MX_BUG_ON(epoll_ctl(ep, EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb), &ev),
		  "epoll_ctl");
	if (sock_path) {
		lfd = open_socket(sock_path);
		ev.data.u64 = 1;
		MX_BUG_ON(epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev), "epoll_ctl");
	}
	for (int i = 0; i < nr_cgroups; i++)
		printf("memcg_ext_prio: %s: T1=%llu T2=%llu T3=%llu\n",
		       cgroups[i].path, (unsigned long long)cgroups[i].t1,
		       (unsigned long long)cgroups[i].t2,
		       (unsigned long long)cgroups[i].t3);
	printf("memcg_ext_prio: attached%s%s\n", sock_path ? ", socket " : "",
	       sock_path ?: "");
	fflush(stdout);

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!mx_exit_req && !MEI_EXITED(skel, mei)) {
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, 500);

		MX_BUG_ON(n < 0 && errno != EINTR, "epoll_wait");
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == 0)
				ring_buffer__consume(rb);
			else if (evs[i].data.u64 == 1)
				accept_clients(ep, lfd);
			else
				serve_client(ep, evs[i].data.u64 - 2);
		}
		fflush(stdout);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (duration && now.tv_sec - start.tv_sec >= duration)
			break;
	}

	ring_buffer__consume(rb);
	summary();
	if (lfd >= 0) {
		close(lfd);
		unlink(sock_path);
	}
	ring_buffer__free(rb);
	bpf_link__destroy(link);
	MEI_REPORT(skel, mei);
	opt = MEI_ERROR(skel, mei) ? EXIT_FAILURE : EXIT_SUCCESS;
	memcg_ext_prio__destroy(skel);
	return opt;
}
