/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * What the client library's host unit tests (test_client.c, test_thread.c)
 * share: the CHECK macro, the runner printing PASS/FAIL unit:client_<name>,
 * and the listening Unix socket in a fresh directory that plays the peer.
 * Included by exactly one .c file per test program.
 */
#ifndef __MEMCG_EXT_CLIENT_TEST_HARNESS_H
#define __MEMCG_EXT_CLIENT_TEST_HARNESS_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char sockpath[108];
static char dir[64];
static int lfd = -1;
static int failed, passed;
static const char *cur;
static int cur_fail;

/* Fail the current test and jump to its "out:" label. */
#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		printf("  %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
		printf(__VA_ARGS__);					\
		printf("\n");						\
		cur_fail = 1;						\
		goto out;						\
	}								\
} while (0)

static void run(const char *name, void (*fn)(void))
{
	cur = name;
	cur_fail = 0;
	fn();
	printf("%s unit:client_%s\n", cur_fail ? "FAIL" : "PASS", cur);
	fflush(stdout);
	if (cur_fail)
		failed++;
	else
		passed++;
}

/* Listen on @sock in a fresh directory made from @dir_template. */
static int harness_listen(const char *dir_template, const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "%s", dir_template);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(sockpath, sizeof(sockpath), "%s/%s", dir, sock);
	strcpy(sa.sun_path, sockpath);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 8)) {
		perror("listen");
		return -1;
	}
	return 0;
}

/* Remove the socket and its directory; print the totals; the exit code. */
static int harness_done(const char *what)
{
	close(lfd);
	unlink(sockpath);
	rmdir(dir);
	printf("%s unit tests: %d passed, %d failed\n", what, passed, failed);
	return failed ? 1 : 0;
}

#endif /* __MEMCG_EXT_CLIENT_TEST_HARNESS_H */
