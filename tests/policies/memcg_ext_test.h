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
};

#define TEST_BAD_DECISION	77
#define TEST_EXIT_CODE		42

#endif /* __MEMCG_EXT_TEST_H */
