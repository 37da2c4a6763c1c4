/* SPDX-License-Identifier: GPL-2.0 */
/* Shared between the test policy and the VM tests that drive it. */
#ifndef __MEMCG_EXT_TEST_H
#define __MEMCG_EXT_TEST_H

enum test_mode {
	TEST_MODE_COUNT,	/* count events, decide MEMCG_EXT_DEFAULT */
	TEST_MODE_ERROR,	/* memcg_ext_error() on the first target event */
	TEST_MODE_BAD_DECISION,	/* return an invalid decision for the target */
	TEST_MODE_DEFER,	/* MEMCG_EXT_DEFER for the target's high events */
	TEST_MODE_EXIT,		/* memcg_ext_exit(TEST_EXIT_CODE) on a target event */
	TEST_MODE_ALLOW,	/* MEMCG_EXT_ALLOW for every target event */
	TEST_MODE_SLOW,		/* spin in the hook for every target event */
};

#define TEST_BAD_DECISION	77
#define TEST_EXIT_CODE		42

/* Arguments of the syscall programs that call the kfuncs for a test. */
struct test_bg_args {
	unsigned long long cgid;
	unsigned long long bytes;
	unsigned int passes;
	unsigned int flags;
	int ret;
};

struct test_target_args {
	unsigned long long cgid;
	int tgid;
	int add;
	int ret;
};

struct test_wm_args {
	unsigned long long cgid;
	unsigned int index;
	unsigned long long level;
	unsigned long long hysteresis;
	int ret;
};

/* What ops.watermark() passes to user space through the ring buffer. */
struct test_wm_event {
	unsigned long long cgid;
	unsigned long long usage;
	unsigned long long ktime_ns;
	unsigned int index;
	unsigned int rising;
};

#endif /* __MEMCG_EXT_TEST_H */
