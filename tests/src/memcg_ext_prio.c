// SPDX-License-Identifier: GPL-2.0
/*
 * Policy-controlled throttling on the memcg_ext kernel: the overdraft cap
 * under an adversarial policy, and the memcg_ext_prio policy (run as its
 * loader, as a user would): thread classes, reclaim moved out of file
 * system transactions, user-space critical sections, tiers up to the
 * kill, and who may register which thread. Which thread reclaimed is seen
 * from the mm_vmscan_memcg_reclaim_begin tracepoint (memcg_ext_observe).
 * Runs in the test VM with zram swap.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <memcg_ext/common.h>
/* TEST_F's setjmp in kselftest_harness.h (6.12) trips -Wclobbered. */
#pragma GCC diagnostic ignored "-Wclobbered"
#include "kselftest_harness.h"
#include "cgroup_helpers.h"
#include "memcg_ext_test.h"
#include "memcg_ext_test.bpf.skel.h"
#include "memcg_ext_observe.bpf.skel.h"

#define SOCK		"/run/memcg_ext/prio-test.sock"
#define KILL_LOG	"/tmp/prio-kills.jsonl"

/* The loader, run as a child; its output is kept for the assertions. */
struct loader {
	pid_t pid;
	int out;
	char log[16384];
	size_t len;
};

static void loader_read(struct loader *l, int ms)
{
	struct pollfd p = { .fd = l->out, .events = POLLIN };

	while (l->len < sizeof(l->log) - 1 && poll(&p, 1, ms) > 0) {
		ssize_t n = read(l->out, l->log + l->len,
				 sizeof(l->log) - 1 - l->len);

		if (n <= 0)
			break;
		l->len += n;
		l->log[l->len] = '\0';
		if (ms > 0 && strstr(l->log, "memcg_ext_prio: attached"))
			break;
	}
}

/* Start memcg_ext_prio with @argv (NULL-terminated, without the name). */
static int loader_start(struct loader *l, const char *const *argv)
{
	const char *args[32] = { "memcg_ext_prio" };
	int pfd[2], i;

	for (i = 0; argv[i] && i < 30; i++)
		args[i + 1] = argv[i];
	memset(l, 0, sizeof(*l));
	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	l->pid = fork();
	if (l->pid < 0)
		return -1;
	if (l->pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execvp(args[0], (char **)args);
		_exit(127);
	}
	close(pfd[1]);
	l->out = pfd[0];
	for (i = 0; i < 100 && !strstr(l->log, "memcg_ext_prio: attached"); i++)
		loader_read(l, 200);
	if (!strstr(l->log, "memcg_ext_prio: attached")) {
		fprintf(stderr, "# loader did not attach:\n%s\n", l->log);
		kill(l->pid, SIGKILL);
		waitpid(l->pid, NULL, 0);
		return -1;
	}
	return 0;
}

/* Stop the loader; returns its exit status (0 when it exited cleanly). */
static int loader_stop(struct loader *l)
{
	int status = -1;

	kill(l->pid, SIGINT);
	waitpid(l->pid, &status, 0);
	loader_read(l, 0);
	close(l->out);
	fprintf(stderr, "# loader output:\n%s", l->log);
	return status;
}

static struct memcg_ext_observe *observe_start(void)
{
	struct memcg_ext_observe *o = memcg_ext_observe__open_and_load();

	if (o && memcg_ext_observe__attach(o)) {
		memcg_ext_observe__destroy(o);
		return NULL;
	}
	return o;
}

/* Memcg reclaim runs the thread @tid made itself. */
static long long reclaims_by(struct memcg_ext_observe *o, pid_t tid)
{
	uint32_t key = tid;
	uint64_t n = 0;

	bpf_map_lookup_elem(bpf_map__fd(o->maps.memcg_reclaims), &key, &n);
	return n;
}

static long long ext_stat(const char *cg, const char *key)
{
	return cg_read_key(cg, "memory.ext.stat", key);
}

/* Touch @mib MiB of fresh anonymous memory, one page at a time. */
static char *touch_anon(size_t mib)
{
	size_t size = mib * MB;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	for (size_t i = 0; i < size; i += 4096)
		p[i] = (char)(i >> 12) | 1;
	return p;
}

static int enter_cgroup(const char *cg)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", getpid());
	return cg_write(cg, "cgroup.procs", pid);
}

/*
 * Run 96M of anon in a fresh cgroup "prio_cap" (memory.max=32M, no swap,
 * memory.ext.overdraft=@cap unless NULL) under the test policy answering
 * every memory.max failure with ALLOW. Returns the wait status.
 */
static int run_always_allow(struct __test_metadata *_metadata, char *cg,
			    const char *cap)
{
	struct memcg_ext_test *skel;
	struct bpf_link *link;
	int status;

	rmdir(cg);
	ASSERT_EQ(0, cg_create("prio_cap", cg, PATH_MAX));
	ASSERT_EQ(0, cg_write(cg, "memory.max", "32M"));
	ASSERT_EQ(0, cg_write(cg, "memory.swap.max", "0"));
	if (cap)
		ASSERT_EQ(0, cg_write(cg, "memory.ext.overdraft", cap));

	skel = memcg_ext_test__open();
	ASSERT_NE(NULL, skel);
	skel->rodata->mode = TEST_MODE_ALLOW;
	skel->rodata->target_cgid = cg_id(cg);
	bpf_map__set_autoattach(skel->maps.test_ops, false);
	ASSERT_EQ(0, memcg_ext_test__load(skel));
	link = bpf_map__attach_struct_ops(skel->maps.test_ops);
	ASSERT_NE(NULL, link);
	status = cg_run(cg, alloc_anon, (void *)(uintptr_t)(96 * MB));
	bpf_link__destroy(link);
	memcg_ext_test__destroy(skel);
	return status;
}

/*
 * The kernel's cap holds whatever the policy says: the test policy answers
 * every memory.max failure with ALLOW, the workload has no swap to reclaim
 * into, and usage still stops at memory.max + memory.ext.overdraft, where
 * stock enforcement (OOM) takes over.
 */
TEST(overdraft_is_capped_under_an_always_allow_policy)
{
	char cg[PATH_MAX] = CG_ROOT "/prio_cap";
	long long peak, over_peak;
	int status;

	status = run_always_allow(_metadata, cg, "8M");
	peak = cg_read_ll(cg, "memory.peak");
	over_peak = ext_stat(cg, "overdraft_peak");
	TH_LOG("peak %lld KiB, overdraft_peak %lld KiB, overdraft_charges %lld, oom_kill %lld",
	       peak >> 10, over_peak >> 10, ext_stat(cg, "overdraft_charges"),
	       cg_read_key(cg, "memory.events", "oom_kill"));
	/* The workload ran into the cap and was OOM-killed there. */
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(1, cg_read_key(cg, "memory.events", "oom_kill"));
	/* The policy's ALLOW was honoured up to the cap... */
	EXPECT_GT(peak, (long long)(32 * MB));
	EXPECT_GT(ext_stat(cg, "overdraft_charges"), 0);
	/* ...and not one page past it. */
	EXPECT_LE(peak, (long long)(40 * MB));
	EXPECT_LE(over_peak, (long long)(8 * MB));

	/* Without a cap (the default) the same policy gets nothing past it. */
	run_always_allow(_metadata, cg, NULL);
	EXPECT_LE(cg_read_ll(cg, "memory.peak"), (long long)(32 * MB));
	EXPECT_EQ(0, ext_stat(cg, "overdraft_charges"));
	rmdir(cg);
}

/* Bad values for the cap are refused and leave it as it was. */
TEST(overdraft_rejects_bad_values)
{
	char cg[PATH_MAX], file[PATH_MAX + 32], buf[64];

	ASSERT_EQ(0, cg_create("prio_capbad", cg, sizeof(cg)));
	snprintf(file, sizeof(file), "%s/memory.ext.overdraft", cg);
	ASSERT_EQ(0, cg_write(cg, "memory.ext.overdraft", "4M"));
	EXPECT_NE(0, cg_write(cg, "memory.ext.overdraft", "lots"));
	EXPECT_NE(0, cg_write(cg, "memory.ext.overdraft", "-1"));
	ASSERT_EQ(0, read_file(file, buf, sizeof(buf)));
	EXPECT_STREQ("4194304", buf);
	ASSERT_EQ(0, cg_write(cg, "memory.ext.overdraft", "max"));
	ASSERT_EQ(0, read_file(file, buf, sizeof(buf)));
	EXPECT_STREQ("max", buf);
	rmdir(cg);
}

struct cls_thread {
	const char *name;
	size_t mib;
	pid_t tid;
	double secs;
	int ok;
};

static double mono_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void *cls_thread_fn(void *arg)
{
	struct cls_thread *t = arg;
	double start;
	char *p;

	pthread_setname_np(pthread_self(), t->name);
	t->tid = gettid();
	start = mono_s();
	p = touch_anon(t->mib);
	t->secs = mono_s() - start;
	t->ok = p != NULL;
	return NULL;
}

/*
 * A never-throttle thread and a throttle-first thread allocate side by side
 * in a cgroup over memory.high: the first never reclaims nor sleeps, the
 * second reclaims (on its return to user mode) and is throttled.
 */
TEST(never_throttle_thread_is_spared_throttle_first_is_not)
{
	const char *args[] = { "-c", "prio_cls", "-s", "-", "-n", "nvr=never",
			       "-n", "fst=first", NULL };
	struct cls_thread nvr = { .name = "nvr", .mib = 48 };
	struct cls_thread fst = { .name = "fst", .mib = 48 };
	struct memcg_ext_observe *o;
	struct loader l;
	char cg[PATH_MAX];
	pthread_t a, b;
	pid_t child;
	int status, pfd[2];

	ASSERT_EQ(0, cg_create("prio_cls", cg, sizeof(cg)));
	ASSERT_EQ(0, cg_write(cg, "memory.high", "32M"));
	o = observe_start();
	ASSERT_NE(NULL, o);
	ASSERT_EQ(0, loader_start(&l, args));

	ASSERT_EQ(0, pipe(pfd));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		if (enter_cgroup(cg))
			_exit(1);
		pthread_create(&a, NULL, cls_thread_fn, &nvr);
		pthread_create(&b, NULL, cls_thread_fn, &fst);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		if (write(pfd[1], &nvr, sizeof(nvr)) != sizeof(nvr) ||
		    write(pfd[1], &fst, sizeof(fst)) != sizeof(fst))
			_exit(1);
		_exit(!(nvr.ok && fst.ok));
	}
	close(pfd[1]);
	ASSERT_EQ((ssize_t)sizeof(nvr), read(pfd[0], &nvr, sizeof(nvr)));
	ASSERT_EQ((ssize_t)sizeof(fst), read(pfd[0], &fst, sizeof(fst)));
	close(pfd[0]);
	waitpid(child, &status, 0);
	EXPECT_EQ(0, status);

	TH_LOG("never: %lld reclaims, %.2fs; first: %lld reclaims, %.2fs; "
	       "throttled %lld times, %lld ms; forgiven %lld",
	       reclaims_by(o, nvr.tid), nvr.secs, reclaims_by(o, fst.tid),
	       fst.secs, ext_stat(cg, "user_return_throttled"),
	       ext_stat(cg, "user_return_throttled_ms"),
	       ext_stat(cg, "user_return_forgiven"));
	EXPECT_EQ(0, reclaims_by(o, nvr.tid));
	EXPECT_GT(reclaims_by(o, fst.tid), 0);
	EXPECT_GT(ext_stat(cg, "user_return_throttled"), 0);
	EXPECT_GT(ext_stat(cg, "user_return_throttled_ms"), 0);
	EXPECT_LT(nvr.secs, fst.secs);
	EXPECT_EQ(0, loader_stop(&l));
	memcg_ext_observe__destroy(o);
	rmdir(cg);
}

/* Create @n directories with a small file each under @dir (ext4). */
static int metadata_storm(const char *dir, int n)
{
	char path[PATH_MAX + 32];

	for (int i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/d%d", dir, i);
		if (mkdir(path, 0755))
			return 1;
		snprintf(path, sizeof(path), "%s/d%d/f", dir, i);
		fd = open(path, O_CREAT | O_WRONLY, 0644);
		if (fd < 0 || write(fd, path, 64) != 64)
			return 1;
		close(fd);
	}
	return 0;
}

struct storm_arg {
	const char *dir;
	const char *fill;
};

/* Fill the page cache up to the limit, then the metadata storm. */
static int storm(void *arg)
{
	struct storm_arg *s = arg;
	static char buf[1 << 20];
	int fd = open(s->fill, O_CREAT | O_WRONLY | O_TRUNC, 0644);

	if (fd < 0)
		return 1;
	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < 32; i++)
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			return 1;
	close(fd);
	if (metadata_storm(s->dir, 3000))
		return 1;
	return unlink(s->fill) ? 1 : 0;
}

static int run_storm(struct __test_metadata *_metadata, const char *cg,
		     const char *mnt, const char *name)
{
	char dir[PATH_MAX], fill[PATH_MAX];
	struct storm_arg s = { dir, fill };

	snprintf(dir, sizeof(dir), "%s/%s", mnt, name);
	snprintf(fill, sizeof(fill), "%s/%s.fill", mnt, name);
	if (mkdir(dir, 0755))
		return -1;
	return cg_run(cg, storm, &s);
}

/* A fixture only for its timeout: the debug kernel needs minutes here. */
FIXTURE(ext4) {};
FIXTURE_SETUP(ext4) {}
FIXTURE_TEARDOWN(ext4) {}

/*
 * Writes to ext4 in a cgroup at its limit: stock memcg reclaims inside
 * jbd2 handles (every task waiting on the journal waits for that reclaim);
 * with the policy the reclaim happens on the return to user mode, and
 * usage stays within memory.max + the overdraft cap.
 */
TEST_F_TIMEOUT(ext4, journal_reclaim_moves_to_user_return, 600)
{
	const char *args[] = { "-c", "prio_txn", "-o", "4M", "-s", "-", NULL };
	const char *mnt = "/tmp/prio-ext4";
	char cg[PATH_MAX];
	long long stock_txn, txn, deferred, peak;
	struct loader l;

	/* A real ext4 with a jbd2 journal (made by the host's mkfs.ext4). */
	ASSERT_EQ(0, system("mkdir -p /tmp/prio-ext4 && "
			    "mount -t ext4 -o loop /opt/memcg_ext/ext4.img /tmp/prio-ext4"));

	/* Stock enforcement (no policy): reclaim under the handle. */
	ASSERT_EQ(0, cg_create("prio_txn", cg, sizeof(cg)));
	ASSERT_EQ(0, cg_write(cg, "memory.max", "24M"));
	EXPECT_EQ(0, run_storm(_metadata, cg, mnt, "stock"));
	stock_txn = ext_stat(cg, "txn_direct_reclaim");
	rmdir(cg);
	system("sync; echo 3 > /proc/sys/vm/drop_caches");

	ASSERT_EQ(0, cg_create("prio_txn", cg, sizeof(cg)));
	ASSERT_EQ(0, cg_write(cg, "memory.max", "24M"));
	ASSERT_EQ(0, loader_start(&l, args));
	EXPECT_EQ(0, run_storm(_metadata, cg, mnt, "policy"));
	txn = ext_stat(cg, "txn_direct_reclaim");
	deferred = ext_stat(cg, "txn_deferred");
	peak = cg_read_ll(cg, "memory.peak");
	TH_LOG("stock: %lld reclaims inside a transaction; policy: %lld, "
	       "%lld charges deferred, %lld KiB repaid at user return, peak %lld KiB",
	       stock_txn, txn, deferred, ext_stat(cg, "overdraft_repaid") >> 10,
	       peak >> 10);
	EXPECT_EQ(0, loader_stop(&l));
	system("umount /tmp/prio-ext4");
	rmdir(cg);

	EXPECT_GT(stock_txn, 0);
	EXPECT_EQ(0, txn);
	EXPECT_GT(deferred, 0);
	EXPECT_LE(peak, (long long)(28 * MB));
}

/* Register the calling thread's word with the loader's socket. */
static int register_word(const char *sock, pid_t tid, void *word, char *reply,
			 size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[96];
	ssize_t n;
	int fd;

	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	snprintf(req, sizeof(req), "REGISTER %d %lx\n", tid, (unsigned long)word);
	if (write(fd, req, strlen(req)) < 0)
		return -errno;
	n = read(fd, reply, len - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	reply[n] = '\0';
	return strncmp(reply, "OK", 2) ? -EPERM : 0;
}

/* Layout of struct prio_thread_word / struct mx_thread_word. */
static __thread struct {
	volatile unsigned int cs_depth;
	volatile unsigned int thread_class;
} word __attribute__((aligned(8)));

struct cs_result {
	long long reclaims_inside, reclaims_after;
	long long throttled_inside, throttled_after, postponed_inside;
	int ok;
};

/*
 * A throttle-first thread inside a marked critical section allocates far
 * over memory.high: it is neither reclaimed for nor throttled while
 * inside; once it has left, it is.
 */
TEST(critical_section_defers_throttling_until_left)
{
	const char *args[] = { "-c", "prio_cs", "-s", SOCK, NULL };
	struct memcg_ext_observe *o;
	struct cs_result r = {};
	char cg[PATH_MAX], reply[128];
	struct loader l;
	int pfd[2], status;
	pid_t child;

	ASSERT_EQ(0, cg_create("prio_cs", cg, sizeof(cg)));
	ASSERT_EQ(0, cg_write(cg, "memory.high", "24M"));
	ASSERT_EQ(0, cg_write(cg, "memory.max", "96M"));
	o = observe_start();
	ASSERT_NE(NULL, o);
	ASSERT_EQ(0, loader_start(&l, args));

	ASSERT_EQ(0, pipe(pfd));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		pid_t tid = gettid();
		uint32_t key = tid;
		uint64_t n;
		int map = bpf_map__fd(o->maps.memcg_reclaims);

		if (enter_cgroup(cg))
			_exit(1);
		word.thread_class = 3;	/* throttle first */
		if (register_word(SOCK, tid, (void *)&word, reply, sizeof(reply)))
			_exit(2);
		word.cs_depth = 1;
		r.ok = touch_anon(48) != NULL;
		n = 0;
		bpf_map_lookup_elem(map, &key, &n);
		r.reclaims_inside = n;
		r.throttled_inside = ext_stat(cg, "user_return_throttled");
		r.postponed_inside = ext_stat(cg, "user_return_postponed");
		word.cs_depth = 0;
		r.ok &= touch_anon(16) != NULL;
		n = 0;
		bpf_map_lookup_elem(map, &key, &n);
		r.reclaims_after = n;
		r.throttled_after = ext_stat(cg, "user_return_throttled");
		_exit(write(pfd[1], &r, sizeof(r)) != sizeof(r));
	}
	close(pfd[1]);
	EXPECT_EQ((ssize_t)sizeof(r), read(pfd[0], &r, sizeof(r)));
	close(pfd[0]);
	waitpid(child, &status, 0);
	EXPECT_EQ(0, status);
	EXPECT_TRUE(r.ok);

	TH_LOG("inside: %lld reclaims, %lld throttled, %lld postponed; after: "
	       "%lld reclaims, %lld throttled", r.reclaims_inside,
	       r.throttled_inside, r.postponed_inside, r.reclaims_after,
	       r.throttled_after);
	EXPECT_EQ(0, r.reclaims_inside);
	EXPECT_EQ(0, r.throttled_inside);
	EXPECT_GT(r.postponed_inside, 0);
	EXPECT_GT(r.reclaims_after, 0);
	EXPECT_GT(r.throttled_after, 0);
	EXPECT_EQ(0, loader_stop(&l));
	memcg_ext_observe__destroy(o);
	rmdir(cg);
}

static int sleeper(void *arg)
{
	(void)arg;
	pause();
	return 0;
}

static int grow(void *arg)
{
	char *p = touch_anon((uintptr_t)arg);

	pause();
	return p == NULL;
}

/*
 * T1 starts background reclaim; at T3 the loader kills the whole
 * workload, records why, and leaves its neighbour alone.
 */
TEST(tiers_reclaim_at_t1_and_kill_at_t3_only_the_workload)
{
	const char *args[] = { "-c", "prio_t3:16M:-:40M", "-s", "-", "-k", KILL_LOG, NULL };
	char cg[PATH_MAX], nb[PATH_MAX], ev[PATH_MAX + 16], buf[512], pidbuf[32];
	pid_t victim, neighbour;
	struct loader l;
	int status;

	unlink(KILL_LOG);
	ASSERT_EQ(0, cg_create("prio_t3", cg, sizeof(cg)));
	ASSERT_EQ(0, cg_create("prio_nb", nb, sizeof(nb)));
	/* No swap: background reclaim cannot hold anon usage under T3. */
	ASSERT_EQ(0, cg_write(cg, "memory.swap.max", "0"));
	ASSERT_EQ(0, loader_start(&l, args));

	neighbour = fork();
	ASSERT_LE(0, neighbour);
	if (neighbour == 0) {
		snprintf(pidbuf, sizeof(pidbuf), "%d", getpid());
		_exit(cg_write(nb, "cgroup.procs", pidbuf) ? 1 : grow((void *)8));
	}
	victim = fork();
	ASSERT_LE(0, victim);
	if (victim == 0) {
		snprintf(pidbuf, sizeof(pidbuf), "%d", getpid());
		/* Grows at a pace background reclaim can follow, past T3. */
		_exit(cg_write(cg, "cgroup.procs", pidbuf) ? 1 : grow((void *)64));
	}
	(void)sleeper;

	snprintf(ev, sizeof(ev), "%s/cgroup.events", cg);
	status = 0;
	for (int i = 0; i < 150; i++) {
		if (waitpid(victim, &status, WNOHANG) == victim)
			break;
		usleep(100 * 1000);
	}
	if (!WIFSIGNALED(status)) {
		kill(victim, SIGKILL);
		waitpid(victim, NULL, 0);
		TH_LOG("not killed; usage %lld", cg_read_ll(cg, "memory.current"));
	}
	loader_read(&l, 0);
	TH_LOG("bg_requests %lld, bg_passes %lld", ext_stat(cg, "bg_requests"),
	       ext_stat(cg, "bg_passes"));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGKILL, WTERMSIG(status));
	EXPECT_TRUE(wait_file(ev, "populated 0\nfrozen 0", 5000));
	/* Background reclaim ran at T1 before the kill. */
	EXPECT_GT(ext_stat(cg, "bg_passes"), 0);
	/* The neighbour lives. */
	EXPECT_EQ(0, waitpid(neighbour, &status, WNOHANG));
	kill(neighbour, SIGKILL);
	waitpid(neighbour, NULL, 0);

	EXPECT_EQ(0, loader_stop(&l));
	EXPECT_NE(NULL, strstr(l.log, "killed /sys/fs/cgroup/prio_t3: usage"));
	ASSERT_EQ(0, read_file(KILL_LOG, buf, sizeof(buf)));
	TH_LOG("kill record: %s", buf);
	EXPECT_NE(NULL, strstr(buf, "\"cgroup\":\"/sys/fs/cgroup/prio_t3\""));
	EXPECT_NE(NULL, strstr(buf, "reached T3"));
	rmdir(cg);
	rmdir(nb);
}

/*
 * The registration socket is open to all, but an unprivileged process can
 * only register its own threads: not a thread of another process in
 * another cgroup. Nor can it raise another cgroup's overdraft cap.
 */
TEST(unprivileged_cannot_change_another_cgroups_threads)
{
	const char *args[] = { "-c", "prio_pa", "-c", "prio_pb", "-s", SOCK,
			       "-n", "zzz=never", NULL };
	char a[PATH_MAX], b[PATH_MAX];
	struct loader l;
	pid_t other, child;
	int status, pfd[2];
	char replies[3][128] = {};

	ASSERT_EQ(0, cg_create("prio_pa", a, sizeof(a)));
	ASSERT_EQ(0, cg_create("prio_pb", b, sizeof(b)));
	ASSERT_EQ(0, loader_start(&l, args));

	other = fork();
	ASSERT_LE(0, other);
	if (other == 0) {
		char pid[32];

		snprintf(pid, sizeof(pid), "%d", getpid());
		_exit(cg_write(a, "cgroup.procs", pid) ? 1 : sleeper(NULL));
	}

	ASSERT_EQ(0, pipe(pfd));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		int fd;

		if (enter_cgroup(b) || setgid(65534) || setuid(65534))
			_exit(1);
		/* Another cgroup's process: refused. */
		register_word(SOCK, other, (void *)&word, replies[0], 128);
		/* Its own thread: accepted. */
		register_word(SOCK, gettid(), (void *)&word, replies[1], 128);
		/* The cap of another cgroup is root's to set. */
		fd = open("/sys/fs/cgroup/prio_pa/memory.ext.overdraft", O_WRONLY);
		snprintf(replies[2], 128, "%s", fd < 0 ? strerror(errno) : "opened");
		_exit(write(pfd[1], replies, sizeof(replies)) != sizeof(replies));
	}
	close(pfd[1]);
	EXPECT_EQ((ssize_t)sizeof(replies), read(pfd[0], replies, sizeof(replies)));
	close(pfd[0]);
	waitpid(child, &status, 0);
	EXPECT_EQ(0, status);
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	EXPECT_EQ(0, loader_stop(&l));

	TH_LOG("foreign: %s own: %s cap: %s", replies[0], replies[1], replies[2]);
	EXPECT_STREQ("ERR not a thread of the caller\n", replies[0]);
	EXPECT_STREQ("OK\n", replies[1]);
	EXPECT_STREQ(strerror(EACCES), replies[2]);
	rmdir(a);
	rmdir(b);
}

TEST_HARNESS_MAIN
