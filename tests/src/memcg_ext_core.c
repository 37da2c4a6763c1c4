// SPDX-License-Identifier: GPL-2.0
/*
 * memcg_ext core: policy lifecycle, sysfs state, ejection and fallback to
 * stock enforcement, memcg online/offline replay, charge-hook decisions.
 * Runs in the test VM on the memcg_ext kernel, as root, with cgroup v2 at
 * /sys/fs/cgroup and zram swap.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <bpf/libbpf.h>
#include <memcg_ext/common.h>
#include "kselftest_harness.h"
#include "cgroup_helpers.h"
#include "memcg_ext_test.h"
#include "memcg_ext_test.bpf.skel.h"

#define SYSFS "/sys/kernel/memcg_ext"

static struct memcg_ext_test *open_policy(uint32_t mode, uint64_t target,
					  int32_t init_ret)
{
	struct memcg_ext_test *skel = memcg_ext_test__open();

	if (!skel)
		return NULL;
	skel->rodata->mode = mode;
	skel->rodata->target_cgid = target;
	skel->rodata->init_ret = init_ret;
	bpf_map__set_autoattach(skel->maps.test_ops, false);
	if (memcg_ext_test__load(skel)) {
		memcg_ext_test__destroy(skel);
		return NULL;
	}
	return skel;
}

static long long sysfs_ll(const char *name)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), SYSFS "/%s", name);
	return read_file(path, buf, sizeof(buf)) ? -1 : atoll(buf);
}

static bool sysfs_has(const char *name, const char *needle)
{
	char path[128], buf[2048];

	snprintf(path, sizeof(path), SYSFS "/%s", name);
	return !read_file(path, buf, sizeof(buf)) && strstr(buf, needle);
}

/*
 * A cgroup where a workload must exceed memory.max and be OOM-killed, as on
 * stock: no swap, a small limit, twice the limit allocated.
 */
static int make_oom_cgroup(const char *name, char *cg, size_t len)
{
	int ret = cg_create(name, cg, len);

	return ret ?: cg_write(cg, "memory.max", "32M") ?:
		cg_write(cg, "memory.swap.max", "0");
}

/* Stock outcome of 64M in a 32M cgroup without swap: SIGKILL by the memcg OOM killer. */
static void expect_stock_oom(struct __test_metadata *_metadata, const char *cg)
{
	long long kills = cg_read_key(cg, "memory.events", "oom_kill");
	int status = cg_run(cg, alloc_anon, (void *)(64 * MB));

	ASSERT_TRUE(WIFSIGNALED(status)) TH_LOG("status %#x", status);
	ASSERT_EQ(SIGKILL, WTERMSIG(status));
	ASSERT_EQ(kills + 1, cg_read_key(cg, "memory.events", "oom_kill"));
	ASSERT_GT(cg_read_key(cg, "memory.events", "max"), 0);
}

/*
 * Attach the test policy in @mode, aimed at a fresh OOM cgroup @name, run
 * a workload over memory.max there (it must be handled as on stock) and
 * wait for the policy's ejection. The link stays attached: the caller
 * checks the exit info, then drops it with detach().
 */
static struct memcg_ext_test *run_until_ejected(struct __test_metadata *_metadata,
						uint32_t mode, const char *name,
						char *cg, struct bpf_link **link)
{
	struct memcg_ext_test *skel;

	ASSERT_EQ(0, make_oom_cgroup(name, cg, PATH_MAX));
	skel = open_policy(mode, cg_id(cg), 0);
	ASSERT_NE(NULL, skel);
	*link = bpf_map__attach_struct_ops(skel->maps.test_ops);
	ASSERT_NE(NULL, *link);

	expect_stock_oom(_metadata, cg);
	ASSERT_TRUE(wait_file(SYSFS "/state", "disabled", 2000));
	return skel;
}

static void detach(struct memcg_ext_test *skel, struct bpf_link *link,
		   const char *cg)
{
	bpf_link__destroy(link);
	memcg_ext_test__destroy(skel);
	rmdir(cg);
}

TEST(idle_state)
{
	char buf[256];

	ASSERT_EQ(0, read_file(SYSFS "/state", buf, sizeof(buf)));
	ASSERT_STREQ("disabled", buf);
	ASSERT_EQ(0, read_file(SYSFS "/root/ops", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);
}

TEST(attach_shows_in_sysfs_and_detaches)
{
	struct memcg_ext_test *skel, *second;
	struct bpf_link *link, *link2;
	long long seq = sysfs_ll("enable_seq");
	char buf[256];

	skel = open_policy(TEST_MODE_COUNT, 0, 0);
	ASSERT_NE(NULL, skel);
	link = bpf_map__attach_struct_ops(skel->maps.test_ops);
	ASSERT_NE(NULL, link);

	ASSERT_EQ(0, read_file(SYSFS "/state", buf, sizeof(buf)));
	ASSERT_STREQ("enabled", buf);
	ASSERT_EQ(0, read_file(SYSFS "/root/ops", buf, sizeof(buf)));
	ASSERT_STREQ("test", buf);
	ASSERT_EQ(seq + 1, sysfs_ll("enable_seq"));

	/* One policy at a time. */
	second = open_policy(TEST_MODE_COUNT, 0, 0);
	ASSERT_NE(NULL, second);
	link2 = bpf_map__attach_struct_ops(second->maps.test_ops);
	ASSERT_EQ(NULL, link2);
	ASSERT_EQ(EBUSY, errno);
	memcg_ext_test__destroy(second);

	ASSERT_EQ(0, bpf_link__destroy(link));
	ASSERT_EQ(0, read_file(SYSFS "/state", buf, sizeof(buf)));
	ASSERT_STREQ("disabled", buf);
	ASSERT_EQ(MEI_KIND_UNREG, skel->data->mei.kind);
	ASSERT_STREQ("detached from user space", skel->data->mei.reason);
	ASSERT_TRUE(sysfs_has("last_exit", "kind=64"));
	memcg_ext_test__destroy(skel);
}

TEST(online_memcgs_are_replayed_and_tracked)
{
	char before[PATH_MAX], after[PATH_MAX];
	struct memcg_ext_test *skel;
	struct bpf_link *link;
	uint64_t id, one;

	ASSERT_EQ(0, cg_create("mx_before", before, sizeof(before)));
	skel = open_policy(TEST_MODE_COUNT, 0, 0);
	ASSERT_NE(NULL, skel);
	link = bpf_map__attach_struct_ops(skel->maps.test_ops);
	ASSERT_NE(NULL, link);

	/* Replayed at attach: the root and the memcg made before. */
	id = cg_id(before);
	ASSERT_EQ(0, bpf_map__lookup_elem(skel->maps.online_ids, &id,
					  sizeof(id), &one, sizeof(one), 0));
	id = cg_id(CG_ROOT);
	ASSERT_EQ(0, bpf_map__lookup_elem(skel->maps.online_ids, &id,
					  sizeof(id), &one, sizeof(one), 0));

	ASSERT_EQ(0, cg_create("mx_after", after, sizeof(after)));
	id = cg_id(after);
	ASSERT_EQ(id, skel->bss->last_online_cgid);

	/* Offlining is asynchronous to rmdir. */
	ASSERT_EQ(0, rmdir(after));
	for (int i = 0; i < 100 && skel->bss->last_offline_cgid != id; i++)
		usleep(20 * 1000);
	ASSERT_EQ(id, skel->bss->last_offline_cgid);

	bpf_link__destroy(link);
	memcg_ext_test__destroy(skel);
	rmdir(before);
}

TEST(charge_hook_sees_max_and_high)
{
	char high[PATH_MAX], max[PATH_MAX];
	struct memcg_ext_test *skel;
	struct bpf_link *link;

	ASSERT_EQ(0, cg_create("mx_high", high, sizeof(high)));
	ASSERT_EQ(0, cg_write(high, "memory.high", "16M"));
	ASSERT_EQ(0, cg_create("mx_max", max, sizeof(max)));
	ASSERT_EQ(0, cg_write(max, "memory.max", "24M"));

	/* memory.high: 48M through a 16M memory.high. */
	skel = open_policy(TEST_MODE_COUNT, cg_id(high), 0);
	ASSERT_NE(NULL, skel);
	link = bpf_map__attach_struct_ops(skel->maps.test_ops);
	ASSERT_NE(NULL, link);
	ASSERT_EQ(0, cg_run(high, alloc_anon, (void *)(48 * MB)));
	EXPECT_GT(skel->bss->nr_target_events[0], 0ULL);	/* HIGH */
	EXPECT_EQ(0ULL, skel->bss->nr_target_events[2]);	/* no max set */
	EXPECT_EQ(cg_id(high), skel->bss->charged_cgid);
	EXPECT_EQ(LLONG_MAX, skel->bss->target_max);
	EXPECT_GT(skel->bss->target_usage, (s64)(16 * MB));
	bpf_link__destroy(link);
	memcg_ext_test__destroy(skel);

	/* memory.max: 48M through a 24M limit with swap, reclaimed not killed. */
	skel = open_policy(TEST_MODE_COUNT, cg_id(max), 0);
	ASSERT_NE(NULL, skel);
	link = bpf_map__attach_struct_ops(skel->maps.test_ops);
	ASSERT_NE(NULL, link);
	ASSERT_EQ(0, cg_run(max, alloc_anon, (void *)(48 * MB)));
	EXPECT_EQ(0ULL, skel->bss->nr_target_events[0]);	/* no high set */
	EXPECT_GT(skel->bss->nr_target_events[2], 0ULL);	/* MAX */
	EXPECT_EQ((s64)(24 * MB), skel->bss->target_max);
	EXPECT_GT(skel->bss->target_usage, (s64)(20 * MB));
	ASSERT_TRUE(sysfs_has("state", "enabled"));

	/* The reader kfuncs, as seen from the hook. */
	EXPECT_GT(skel->bss->seen_max_events, 0);	/* raised after the first hook */
	EXPECT_LE(skel->bss->seen_max_events,
		  cg_read_key(max, "memory.events", "max"));
	EXPECT_GE(skel->bss->seen_anon, 0);
	EXPECT_GE(skel->bss->seen_pgfault, 0);
	EXPECT_EQ(-EINVAL, skel->bss->seen_bad_stat);
	EXPECT_EQ(-EINVAL, skel->bss->seen_bad_event);
	EXPECT_GT(skel->data->seen_lookup_usage, (s64)(20 * MB));
	EXPECT_EQ(0ULL, skel->data->seen_lookup_missing);
	bpf_link__destroy(link);
	memcg_ext_test__destroy(skel);

	rmdir(high);
	rmdir(max);
}

/*
 * A policy that raises an error is ejected with its message, stops being
 * called, and the workload over memory.max is handled as on stock.
 */
TEST(error_ejects_and_stock_resumes)
{
	struct memcg_ext_test *skel, *next;
	struct bpf_link *link, *link2;
	char cg[PATH_MAX];
	uint64_t seen;

	skel = run_until_ejected(_metadata, TEST_MODE_ERROR, "mx_error", cg, &link);
	ASSERT_EQ(MEI_KIND_ERROR_BPF, skel->data->mei.kind);
	ASSERT_STREQ("policy raised an error", skel->data->mei.reason);
	ASSERT_NE(NULL, strstr(skel->data->mei.msg, "test error on event 2"));
	ASSERT_TRUE(sysfs_has("last_exit", "kind=1025"));
	ASSERT_TRUE(sysfs_has("last_exit", "test error on event 2"));
	ASSERT_EQ(1ULL, skel->bss->nr_target_events[2]);

	/* Ejected: no longer called, stock enforcement for the next workload. */
	seen = skel->bss->nr_events[2];
	expect_stock_oom(_metadata, cg);
	ASSERT_EQ(seen, skel->bss->nr_events[2]);

	/* The ejected policy's link still blocks a new attach until dropped. */
	next = open_policy(TEST_MODE_COUNT, 0, 0);
	ASSERT_NE(NULL, next);
	ASSERT_EQ(NULL, bpf_map__attach_struct_ops(next->maps.test_ops));
	ASSERT_EQ(EBUSY, errno);
	bpf_link__destroy(link);
	link2 = bpf_map__attach_struct_ops(next->maps.test_ops);
	ASSERT_NE(NULL, link2);
	bpf_link__destroy(link2);

	memcg_ext_test__destroy(next);
	detach(skel, NULL, cg);
}

/*
 * A hook that runs too long (a bounded loop the verifier accepts) ejects
 * the policy; the limit is /sys/kernel/memcg_ext/hook_timeout_us.
 */
TEST(slow_hook_is_ejected)
{
	struct memcg_ext_test *skel;
	struct bpf_link *link;
	char cg[PATH_MAX], old[32];
	bool ejected;

	ASSERT_EQ(0, read_file(SYSFS "/hook_timeout_us", old, sizeof(old)));
	ASSERT_STREQ("100000", old);
	/* Out of range: refused, the value stays. */
	ASSERT_NE(0, write_file(SYSFS "/hook_timeout_us", "0"));
	ASSERT_NE(0, write_file(SYSFS "/hook_timeout_us", "99"));
	ASSERT_NE(0, write_file(SYSFS "/hook_timeout_us", "soon"));
	ASSERT_TRUE(wait_file(SYSFS "/hook_timeout_us", "100000", 0));

	/* Every charge over memory.high calls the hook, which spins. */
	ASSERT_EQ(0, cg_create("mx_slow", cg, sizeof(cg)));
	ASSERT_EQ(0, cg_write(cg, "memory.high", "8M"));
	skel = open_policy(TEST_MODE_SLOW, cg_id(cg), 0);
	ASSERT_NE(NULL, skel);
	ASSERT_EQ(0, write_file(SYSFS "/hook_timeout_us", "1000"));
	link = bpf_map__attach_struct_ops(skel->maps.test_ops);
	if (link)
		cg_run(cg, alloc_anon, (void *)(32 * MB));
	ejected = wait_file(SYSFS "/state", "disabled", 2000);
	/* Restore the limit before anything can fail: later tests need it. */
	write_file(SYSFS "/hook_timeout_us", old);
	ASSERT_NE(NULL, link);
	ASSERT_TRUE(ejected);
	ASSERT_EQ(MEI_KIND_ERROR_STALL, skel->data->mei.kind);
	ASSERT_STREQ("hook ran too long", skel->data->mei.reason);
	TH_LOG("%s", skel->data->mei.msg);
	ASSERT_NE(NULL, strstr(skel->data->mei.msg, "ops.charge() ran for"));
	ASSERT_NE(NULL, strstr(skel->data->mei.msg, "more than 1000 us, 2 times in a row"));
	ASSERT_TRUE(sysfs_has("last_exit", "kind=1027"));
	/* Exactly the two overruns: ejected on the second. */
	ASSERT_EQ(2ULL, skel->bss->nr_target_events[0]);
	detach(skel, link, cg);
}

TEST(invalid_decision_ejects)
{
	struct memcg_ext_test *skel;
	struct bpf_link *link;
	char cg[PATH_MAX];

	skel = run_until_ejected(_metadata, TEST_MODE_BAD_DECISION,
				 "mx_decision", cg, &link);
	ASSERT_EQ(MEI_KIND_ERROR_DECISION, skel->data->mei.kind);
	ASSERT_EQ(TEST_BAD_DECISION, skel->data->mei.exit_code);
	ASSERT_NE(NULL, strstr(skel->data->mei.msg,
			       "ops.charge() returned 77 for a max event"))
		TH_LOG("msg: %s", skel->data->mei.msg);
	detach(skel, link, cg);
}

TEST(init_failure_refuses_attach)
{
	struct memcg_ext_test *skel = open_policy(TEST_MODE_COUNT, 0, -ENODEV);

	ASSERT_NE(NULL, skel);
	ASSERT_EQ(NULL, bpf_map__attach_struct_ops(skel->maps.test_ops));
	ASSERT_TRUE(sysfs_has("state", "disabled"));
	ASSERT_EQ(MEI_KIND_ERROR, skel->data->mei.kind);
	ASSERT_STREQ("ops.init() failed (-19)", skel->data->mei.msg);
	memcg_ext_test__destroy(skel);
}

TEST(exit_kfunc_detaches_with_code)
{
	struct memcg_ext_test *skel;
	struct bpf_link *link;
	char cg[PATH_MAX];

	skel = run_until_ejected(_metadata, TEST_MODE_EXIT, "mx_exit", cg, &link);
	ASSERT_EQ(MEI_KIND_UNREG_BPF, skel->data->mei.kind);
	ASSERT_EQ(TEST_EXIT_CODE, skel->data->mei.exit_code);
	detach(skel, link, cg);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/*
 * Fault in @arg bytes of anonymous memory with one madvise() call, in base
 * pages: THP charges use a non-blocking gfp mask, for which stock memcg
 * never reclaims in the charge path, so they would not show the difference.
 */
static int populate_anon(void *arg)
{
	size_t size = (uintptr_t)arg;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || madvise(p, size, MADV_NOHUGEPAGE))
		return 1;
	return madvise(p, size, MADV_POPULATE_WRITE) ? 2 : 0;
}

static long long peak_of_populate(struct __test_metadata *_metadata,
				  uint32_t mode)
{
	struct memcg_ext_test *skel;
	struct bpf_link *link;
	char cg[PATH_MAX];
	long long peak;

	EXPECT_EQ(0, cg_create("mx_defer", cg, sizeof(cg)));
	EXPECT_EQ(0, cg_write(cg, "memory.high", "16M"));
	skel = open_policy(mode, cg_id(cg), 0);
	EXPECT_NE(NULL, skel);
	if (!skel)
		return -1;
	link = bpf_map__attach_struct_ops(skel->maps.test_ops);
	EXPECT_NE(NULL, link);

	EXPECT_EQ(0, cg_run(cg, populate_anon, (void *)(48 * MB)));
	EXPECT_GT(skel->bss->nr_target_events[0], 0ULL);
	peak = cg_read_ll(cg, "memory.peak");

	bpf_link__destroy(link);
	memcg_ext_test__destroy(skel);
	rmdir(cg);
	return peak;
}

/*
 * A single madvise(MADV_POPULATE_WRITE) of 48M in a memcg with
 * memory.high=16M: stock
 * reclaims synchronously inside the call once the task is a charge batch
 * over the limit, so the peak stays near memory.high; with
 * MEMCG_EXT_DEFER the reclaim waits for the return to user mode, so the
 * whole populate is charged first.
 */
TEST(defer_moves_high_reclaim_to_user_return)
{
	long long stock_peak = peak_of_populate(_metadata, TEST_MODE_COUNT);
	long long defer_peak = peak_of_populate(_metadata, TEST_MODE_DEFER);

	TH_LOG("memory.peak: default %lld MiB, defer %lld MiB",
	       stock_peak / (long long)MB, defer_peak / (long long)MB);
	ASSERT_LT(stock_peak, 40 * (long long)MB);
	ASSERT_GE(defer_peak, 46 * (long long)MB);
}

TEST_HARNESS_MAIN
