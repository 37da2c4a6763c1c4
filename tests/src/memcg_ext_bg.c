// SPDX-License-Identifier: GPL-2.0
/*
 * memcg_ext background reclaim, targeted reclaim and watermarks, driven
 * through the kfuncs from the test policy's syscall programs: what is
 * reclaimed and how it is counted, who pays the CPU, what is protected,
 * who is woken and when, and that bad requests are refused without harm.
 * Runs in the test VM on the memcg_ext kernel, with zram swap.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/epoll.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <memcg_ext/common.h>
#include "kselftest_harness.h"
#include "cgroup_helpers.h"
#include "memcg_ext_test.h"
#include "memcg_ext_test.bpf.skel.h"

#define SYSFS "/sys/kernel/memcg_ext"
/* MEMCG_EXT_BG_NOSWAP */
#define BG_NOSWAP 1

struct policy {
	struct memcg_ext_test *skel;
	struct bpf_link *link;
};

static int policy_attach(struct policy *p)
{
	p->skel = memcg_ext_test__open();
	if (!p->skel)
		return -1;
	p->skel->rodata->mode = TEST_MODE_COUNT;
	bpf_map__set_autoattach(p->skel->maps.test_ops, false);
	if (memcg_ext_test__load(p->skel))
		return -1;
	p->link = bpf_map__attach_struct_ops(p->skel->maps.test_ops);
	return p->link ? 0 : -1;
}

static void policy_detach(struct policy *p)
{
	bpf_link__destroy(p->link);
	memcg_ext_test__destroy(p->skel);
}

static int run_prog(struct bpf_program *prog, void *ctx, size_t size)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx,
		    .ctx_size_in = size);

	return bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
}

static int bg_reclaim(struct memcg_ext_test *skel, uint64_t cgid,
		      uint64_t bytes, unsigned int passes, unsigned int flags)
{
	struct test_bg_args a = {
		.cgid = cgid, .bytes = bytes, .passes = passes, .flags = flags,
	};

	if (run_prog(skel->progs.test_bg_reclaim, &a, sizeof(a)))
		return -1000;
	return a.ret;
}

static int bg_target(struct memcg_ext_test *skel, uint64_t cgid, int tgid,
		     int add)
{
	struct test_target_args a = { .cgid = cgid, .tgid = tgid, .add = add };

	if (run_prog(skel->progs.test_bg_target, &a, sizeof(a)))
		return -1000;
	return a.ret;
}

static int set_watermark(struct memcg_ext_test *skel, uint64_t cgid,
			 unsigned int index, uint64_t level, uint64_t hyst)
{
	struct test_wm_args a = {
		.cgid = cgid, .index = index, .level = level, .hysteresis = hyst,
	};

	if (run_prog(skel->progs.test_set_watermark, &a, sizeof(a)))
		return -1000;
	return a.ret;
}

/*
 * A process in @cg that allocates and dirties @bytes of anonymous memory,
 * then holds it; on each byte read from its command pipe it allocates
 * @bytes more ('a') or frees the last allocation ('f'), and answers each
 * command with one byte once done.
 */
struct holder {
	pid_t pid;
	int cmd, ack;
};

static int holder_start(struct holder *h, const char *cg, size_t bytes)
{
	int cmd[2], ack[2];
	char c;

	if (pipe(cmd) || pipe(ack))
		return -1;
	h->pid = fork();
	if (h->pid < 0)
		return -1;
	if (h->pid == 0) {
		char *bufs[64];
		int n = 0;
		char pid[32];

		snprintf(pid, sizeof(pid), "%d", getpid());
		if (cg_write(cg, "cgroup.procs", pid))
			_exit(125);
		/*
		 * Keep no policy fds: a BPF link held here would keep the
		 * policy attached after the test detaches it.
		 */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != cmd[0] && fd != ack[1])
				close(fd);
		c = 'a';
		do {
			if (c == 'a' && n < 64) {
				bufs[n] = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
					       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				if (bufs[n] == MAP_FAILED)
					_exit(1);
				/* Non-zero: zero pages never reach zram. */
				for (size_t i = 0; i < bytes; i += 4096)
					bufs[n][i] = (char)(i >> 12) | 1;
				n++;
			} else if (c == 'f' && n > 0) {
				munmap(bufs[--n], bytes);
			}
			if (write(ack[1], &c, 1) != 1)
				_exit(1);
		} while (read(cmd[0], &c, 1) == 1);
		_exit(0);
	}
	close(cmd[0]);
	close(ack[1]);
	h->cmd = cmd[1];
	h->ack = ack[0];
	return read(h->ack, &c, 1) == 1 ? 0 : -1;
}

static int holder_do(struct holder *h, char c)
{
	return write(h->cmd, &c, 1) == 1 && read(h->ack, &c, 1) == 1 ? 0 : -1;
}

static void holder_stop(struct holder *h)
{
	if (h->pid <= 0)
		return;
	kill(h->pid, SIGKILL);
	waitpid(h->pid, NULL, 0);
	close(h->cmd);
	close(h->ack);
	h->pid = 0;
}

/* "VmSwap:   123 kB" of /proc/@pid/status, in bytes. */
static long long proc_status_kb(pid_t pid, const char *key)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file(path, buf, sizeof(buf)))
		return -1;
	p = strstr(buf, key);
	return p ? atoll(p + strlen(key) + 1) * 1024 : -1;
}

/* Wait until no background pass of @cg is queued or running. */
static bool wait_bg_idle(const char *cg, int ms)
{
	for (int i = 0; i <= ms / 50; i++) {
		if (cg_read_key(cg, "memory.ext.stat", "bg_in_flight") == 0)
			return true;
		usleep(50 * 1000);
	}
	return false;
}

TEST(bg_reclaim_is_background_and_stops_at_target)
{
	struct holder h = {};
	struct policy p;
	char cg[PATH_MAX];
	long long before, after;

	ASSERT_EQ(0, cg_create("bg-basic", cg, sizeof(cg)));
	ASSERT_EQ(0, policy_attach(&p));
	ASSERT_EQ(0, holder_start(&h, cg, 32 * MB));

	before = cg_read_ll(cg, "memory.current");
	ASSERT_GT(before, 30 * (long long)MB);
	ASSERT_EQ(0, bg_reclaim(p.skel, cg_id(cg), 16 * MB, 1, 0));
	ASSERT_TRUE(wait_bg_idle(cg, 20000));
	after = cg_read_ll(cg, "memory.current");
	TH_LOG("usage %lld -> %lld", before, after);

	/* Got there, and stopped there: steps are 512K, one pass. */
	ASSERT_LE(after, before - 15 * (long long)MB);
	ASSERT_GE(after, before - 20 * (long long)MB);
	ASSERT_GE(cg_read_key(cg, "memory.ext.stat", "bg_reclaimed"),
		  15 * (long long)MB);
	ASSERT_EQ(1, cg_read_key(cg, "memory.ext.stat", "bg_requests"));
	/* memory.stat tells it from direct reclaim. */
	ASSERT_GT(cg_read_key(cg, "memory.stat", "pgsteal_background"), 0);
	ASSERT_EQ(0, cg_read_key(cg, "memory.stat", "pgsteal_direct"));
	ASSERT_EQ(0, cg_read_key(cg, "memory.stat", "pgscan_direct"));

	holder_stop(&h);
	policy_detach(&p);
	rmdir(cg);
}

TEST(bg_reclaim_cpu_is_charged_to_the_cgroup)
{
	long long cpu0, cpu1, sys0, sys1, bg0, bg1;
	struct holder h = {};
	struct policy p;
	char cg[PATH_MAX];

	ASSERT_EQ(0, cg_create("bg-cpu", cg, sizeof(cg)));
	ASSERT_EQ(0, policy_attach(&p));
	ASSERT_EQ(0, holder_start(&h, cg, 48 * MB));
	/* The holder sleeps from here on: the cgroup's CPU is reclaim. */
	usleep(200 * 1000);

	cpu0 = cg_read_key(cg, "cpu.stat", "usage_usec");
	sys0 = cg_read_key(cg, "cpu.stat", "system_usec");
	bg0 = cg_read_key(cg, "memory.ext.stat", "bg_cpu_usec");
	ASSERT_EQ(0, bg_reclaim(p.skel, cg_id(cg), 40 * MB, 1, 0));
	ASSERT_TRUE(wait_bg_idle(cg, 30000));
	cpu1 = cg_read_key(cg, "cpu.stat", "usage_usec");
	sys1 = cg_read_key(cg, "cpu.stat", "system_usec");
	bg1 = cg_read_key(cg, "memory.ext.stat", "bg_cpu_usec");
	TH_LOG("cpu.stat usage +%lld us, system +%lld us, bg_cpu +%lld us",
	       cpu1 - cpu0, sys1 - sys0, bg1 - bg0);

	ASSERT_GT(bg1 - bg0, 0);
	/* All of the passes' CPU, give or take the rounding to usecs. */
	ASSERT_GE(cpu1 - cpu0, bg1 - bg0 - 10);
	ASSERT_GE(sys1 - sys0, (bg1 - bg0) * 9 / 10);

	holder_stop(&h);
	policy_detach(&p);
	rmdir(cg);
}

TEST(bg_reclaim_respects_memory_min)
{
	char parent[PATH_MAX], prot[PATH_MAX], open_[PATH_MAX];
	struct holder a = {}, b = {};
	long long pa, pb;
	struct policy p;

	ASSERT_EQ(0, cg_create("bg-min", parent, sizeof(parent)));
	ASSERT_EQ(0, cg_write(parent, "cgroup.subtree_control", "+memory"));
	ASSERT_LT(snprintf(prot, sizeof(prot), "%.200s/protected", parent), 256);
	ASSERT_LT(snprintf(open_, sizeof(open_), "%.200s/open", parent), 256);
	ASSERT_EQ(0, mkdir(prot, 0755));
	ASSERT_EQ(0, mkdir(open_, 0755));
	ASSERT_EQ(0, cg_write(prot, "memory.min", "32M"));
	ASSERT_EQ(0, policy_attach(&p));
	ASSERT_EQ(0, holder_start(&a, prot, 24 * MB));
	ASSERT_EQ(0, holder_start(&b, open_, 24 * MB));

	ASSERT_EQ(0, bg_reclaim(p.skel, cg_id(parent), 40 * MB, 2, 0));
	ASSERT_TRUE(wait_bg_idle(parent, 30000));
	pa = cg_read_ll(prot, "memory.current");
	pb = cg_read_ll(open_, "memory.current");
	TH_LOG("protected %lld, unprotected %lld", pa, pb);
	ASSERT_GE(pa, 23 * (long long)MB);
	ASSERT_LE(pb, 8 * (long long)MB);

	holder_stop(&a);
	holder_stop(&b);
	policy_detach(&p);
	rmdir(prot);
	rmdir(open_);
	rmdir(parent);
}

TEST(bg_reclaim_noswap_does_not_swap)
{
	struct holder h = {};
	long long swap0, swap1;
	struct policy p;
	char cg[PATH_MAX];

	ASSERT_EQ(0, cg_create("bg-noswap", cg, sizeof(cg)));
	ASSERT_EQ(0, policy_attach(&p));
	ASSERT_EQ(0, holder_start(&h, cg, 24 * MB));
	swap0 = cg_read_ll(cg, "memory.swap.current");
	ASSERT_EQ(0, bg_reclaim(p.skel, cg_id(cg), 16 * MB, 1, BG_NOSWAP));
	ASSERT_TRUE(wait_bg_idle(cg, 30000));
	swap1 = cg_read_ll(cg, "memory.swap.current");
	TH_LOG("swap %lld -> %lld", swap0, swap1);
	ASSERT_EQ(swap0, swap1);
	/* Anon only, no swap: the pass found nothing and gave up. */
	ASSERT_GE(cg_read_ll(cg, "memory.current"), 23 * (long long)MB);

	holder_stop(&h);
	policy_detach(&p);
	rmdir(cg);
}

TEST(bg_reclaim_rejects_bad_requests)
{
	struct memcg_ext_test *unattached;
	struct holder h = {};
	struct policy p;
	char cg[PATH_MAX];
	uint64_t id;

	ASSERT_EQ(0, cg_create("bg-bad", cg, sizeof(cg)));
	id = cg_id(cg);
	ASSERT_EQ(0, holder_start(&h, cg, 8 * MB));

	/* Only the attached policy's requests are carried out. */
	unattached = memcg_ext_test__open_and_load();
	ASSERT_NE(NULL, unattached);
	ASSERT_EQ(-ENODEV, bg_reclaim(unattached, id, MB, 1, 0));
	ASSERT_EQ(-ENODEV, set_watermark(unattached, id, 0, 16 * MB, 0));
	memcg_ext_test__destroy(unattached);

	ASSERT_EQ(0, policy_attach(&p));
	ASSERT_EQ(-EINVAL, bg_reclaim(p.skel, 1, MB, 1, 0));	/* root */
	ASSERT_EQ(-EINVAL, bg_reclaim(p.skel, id, MB, 0, 0));
	ASSERT_EQ(-EINVAL, bg_reclaim(p.skel, id, MB, 1, 0x80));
	ASSERT_EQ(-E2BIG, bg_reclaim(p.skel, id, 1ULL << 40, 1, 0));
	ASSERT_EQ(-E2BIG, bg_reclaim(p.skel, id, ~0ULL, 1, 0));
	ASSERT_EQ(-ENOENT, bg_reclaim(p.skel, 1ULL << 40, MB, 1, 0));
	ASSERT_EQ(-EINVAL, set_watermark(p.skel, id, 4, 16 * MB, 0));
	ASSERT_EQ(-EINVAL, set_watermark(p.skel, id, 0, 16 * MB, 17 * MB));
	ASSERT_EQ(-EINVAL, set_watermark(p.skel, 1, 0, 16 * MB, 0));
	ASSERT_EQ(-E2BIG, set_watermark(p.skel, id, 0, ~0ULL, 0));
	ASSERT_EQ(-ESRCH, bg_target(p.skel, id, 0x3fffffff, 1));
	ASSERT_EQ(-EINVAL, bg_target(p.skel, id, getpid(), 1)); /* not in cg */
	ASSERT_EQ(-ENOENT, bg_target(p.skel, id, h.pid, 0));
	ASSERT_EQ(0, bg_target(p.skel, id, h.pid, 1));
	ASSERT_EQ(-EEXIST, bg_target(p.skel, id, h.pid, 1));

	/* Refused without harm: nothing queued, policy still attached. */
	ASSERT_EQ(0, cg_read_key(cg, "memory.ext.stat", "bg_requests"));
	ASSERT_GE(cg_read_ll(cg, "memory.current"), 8 * (long long)MB);
	ASSERT_TRUE(wait_file(SYSFS "/state", "enabled", 0));

	holder_stop(&h);
	policy_detach(&p);
	rmdir(cg);
}

/* Wait up to @ms for one watermark event of @cgid. */
static int next_wm_event(int epfd, struct ring_buffer *rb, int ms)
{
	struct epoll_event ev;
	int n = epoll_wait(epfd, &ev, 1, ms);

	if (n <= 0)
		return n;
	return ring_buffer__consume(rb);
}

static struct test_wm_event last_wm;
static int nr_wm;

static int on_wm(void *ctx, void *data, size_t size)
{
	if (size >= sizeof(last_wm) &&
	    ((struct test_wm_event *)data)->cgid == *(uint64_t *)ctx) {
		memcpy(&last_wm, data, sizeof(last_wm));
		nr_wm++;
	}
	return 0;
}

static unsigned long long wake_bound_ms(void)
{
	const char *k = getenv("MEMCG_EXT_KERNEL");

	return k && !strcmp(k, "debug") ? 1000 : 250;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

TEST(watermark_wakes_poller_on_crossing_only)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct holder h = {};
	struct ring_buffer *rb;
	long long usage, level;
	uint64_t id, woke;
	struct policy p;
	char cg[PATH_MAX];
	int epfd;

	ASSERT_EQ(0, cg_create("bg-wm", cg, sizeof(cg)));
	id = cg_id(cg);
	ASSERT_EQ(0, policy_attach(&p));
	ASSERT_EQ(0, holder_start(&h, cg, 8 * MB));
	rb = ring_buffer__new(bpf_map__fd(p.skel->maps.wm_events), on_wm, &id,
			      NULL);
	ASSERT_NE(NULL, rb);
	epfd = epoll_create1(0);
	ASSERT_EQ(0, epoll_ctl(epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb),
			       &ev));

	usage = cg_read_ll(cg, "memory.current");
	level = usage + 12 * MB;
	ASSERT_EQ(0, set_watermark(p.skel, id, 0, level, 6 * MB));

	/* 8M more stays below the level: nobody is woken. */
	ASSERT_EQ(0, holder_do(&h, 'a'));
	ASSERT_EQ(0, next_wm_event(epfd, rb, 1000));
	ASSERT_EQ(0, nr_wm);

	/* 8M more crosses it: woken, promptly, with the usage it saw. */
	ASSERT_EQ(0, holder_do(&h, 'a'));
	ASSERT_GT(next_wm_event(epfd, rb, 5000), 0);
	woke = mono_ns();
	ASSERT_EQ(1, nr_wm);
	ASSERT_EQ(1U, last_wm.rising);
	ASSERT_EQ(0U, last_wm.index);
	ASSERT_GE((long long)last_wm.usage, level);
	/* Seen within a charge batch per CPU (64 pages each) of the level. */
	ASSERT_LT((long long)last_wm.usage, level + 2 * (long long)MB);
	TH_LOG("woken %.3f ms after the crossing, %lld KiB past the level",
	       (woke - last_wm.ktime_ns) / 1e6,
	       ((long long)last_wm.usage - level) / 1024);
	/*
	 * The bound we state in docs/DESIGN.md, with room for TCG; the
	 * debug kernel (KASAN, lockdep) gets four times as long.
	 */
	ASSERT_LT(woke - last_wm.ktime_ns, wake_bound_ms() * 1000000ULL);

	/* Freeing 8M leaves usage within the hysteresis: no event. */
	ASSERT_EQ(0, holder_do(&h, 'f'));
	ASSERT_EQ(0, next_wm_event(epfd, rb, 1000));
	ASSERT_EQ(1, nr_wm);
	/* Freeing 8M more goes below level - hysteresis: one event. */
	ASSERT_EQ(0, holder_do(&h, 'f'));
	ASSERT_GT(next_wm_event(epfd, rb, 5000), 0);
	ASSERT_EQ(2, nr_wm);
	ASSERT_EQ(0U, last_wm.rising);
	ASSERT_LT((long long)last_wm.usage, level - 6 * (long long)MB);
	ASSERT_EQ(2, cg_read_key(cg, "memory.ext.stat", "watermark_events"));

	/* Detaching the policy clears its watermarks. */
	ring_buffer__free(rb);
	close(epfd);
	policy_detach(&p);
	ASSERT_TRUE(wait_file(SYSFS "/state", "disabled", 2000));
	ASSERT_EQ(0, holder_do(&h, 'a'));
	ASSERT_EQ(0, holder_do(&h, 'a'));
	ASSERT_EQ(2, cg_read_key(cg, "memory.ext.stat", "watermark_events"));

	holder_stop(&h);
	rmdir(cg);
}

TEST(targeted_reclaim_takes_the_target_first)
{
	struct holder crit = {}, batch = {};
	long long crit_swap, batch_swap;
	struct policy p;
	char cg[PATH_MAX];
	uint64_t id;

	ASSERT_EQ(0, cg_create("bg-target", cg, sizeof(cg)));
	id = cg_id(cg);
	ASSERT_EQ(0, policy_attach(&p));
	/* The critical process's memory is the older: LRU order takes it first. */
	ASSERT_EQ(0, holder_start(&crit, cg, 24 * MB));
	ASSERT_EQ(0, holder_start(&batch, cg, 24 * MB));

	ASSERT_EQ(0, bg_target(p.skel, id, batch.pid, 1));
	ASSERT_EQ(0, bg_reclaim(p.skel, id, 16 * MB, 1, 0));
	ASSERT_TRUE(wait_bg_idle(cg, 30000));
	crit_swap = proc_status_kb(crit.pid, "VmSwap:");
	batch_swap = proc_status_kb(batch.pid, "VmSwap:");
	TH_LOG("targeted: critical swapped %lld KiB, batch %lld KiB",
	       crit_swap / 1024, batch_swap / 1024);
	ASSERT_GE(batch_swap, 15 * (long long)MB);
	ASSERT_LE(crit_swap, 1 * (long long)MB);
	ASSERT_GE(cg_read_key(cg, "memory.ext.stat", "bg_reclaimed_targeted"),
		  15 * (long long)MB);

	/* Without the target, reclaim is blind and takes the older pages. */
	ASSERT_EQ(0, bg_target(p.skel, id, batch.pid, 0));
	ASSERT_EQ(0, bg_reclaim(p.skel, id, 8 * MB, 1, 0));
	ASSERT_TRUE(wait_bg_idle(cg, 30000));
	crit_swap = proc_status_kb(crit.pid, "VmSwap:");
	TH_LOG("untargeted: critical swapped %lld KiB", crit_swap / 1024);
	ASSERT_GE(crit_swap, 4 * (long long)MB);

	holder_stop(&crit);
	holder_stop(&batch);
	policy_detach(&p);
	rmdir(cg);
}

TEST_HARNESS_MAIN
