// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests for policies/lib/util.c: cgroup id <-> path resolution
 * (exercised on a temporary directory tree, never on the host's cgroups),
 * byte formatting and signal setup. Prints one PASS/FAIL line per check,
 * as the VM test runner does.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <memcg_ext/common.h>

static int passed, failed;

#define CHECK(cond, name) do {						\
	if (cond) {							\
		passed++;						\
		printf("PASS unit:%s\n", name);				\
	} else {							\
		failed++;						\
		printf("FAIL unit:%s (%s:%d)\n", name, __FILE__,	\
		       __LINE__);					\
	}								\
} while (0)

static void test_fmt_bytes(void)
{
	char buf[16];

	CHECK(!strcmp(mx_fmt_bytes(512, buf, sizeof(buf)), "512B"), "fmt_bytes");
	CHECK(!strcmp(mx_fmt_bytes(1536, buf, sizeof(buf)), "1.5K"), "fmt_KiB");
	CHECK(!strcmp(mx_fmt_bytes(64LL << 20, buf, sizeof(buf)), "64.0M"), "fmt_MiB");
	CHECK(!strcmp(mx_fmt_bytes(3LL << 30, buf, sizeof(buf)), "3.0G"), "fmt_GiB");
	CHECK(!strcmp(mx_fmt_bytes(INT64_MAX, buf, sizeof(buf)), "max"), "fmt_max");
	CHECK(!strcmp(mx_fmt_bytes(-22, buf, sizeof(buf)), "?"), "fmt_error");
}

static void test_cgroup_ids(void)
{
	char root[] = "/tmp/mx_unit.XXXXXX", a[256], b[256], path[256], tiny[8];
	s64 id_a, id_b;

	CHECK(mkdtemp(root) != NULL, "mkdtemp");
	snprintf(a, sizeof(a), "%s/a", root);
	snprintf(b, sizeof(b), "%s/a/b", root);
	CHECK(!mkdir(a, 0755) && !mkdir(b, 0755), "make_tree");

	id_a = mx_cgroup_id(a);
	id_b = mx_cgroup_id(b);
	CHECK(id_a > 0 && id_b > 0 && id_a != id_b, "ids_of_directories");
	CHECK(mx_cgroup_id("/nonexistent/mx") == -ENOENT, "id_of_missing_path");
	CHECK(mx_cgroup_id("/etc/hostname") == -ENOTDIR ||
	      access("/etc/hostname", F_OK), "id_of_a_file");

	CHECK(!mx_cgroup_path(root, id_b, path, sizeof(path)) &&
	      !strcmp(path, b), "path_of_nested_id");
	CHECK(!mx_cgroup_path(root, id_a, path, sizeof(path)) &&
	      !strcmp(path, a), "path_of_id");
	CHECK(mx_cgroup_path(root, id_b, tiny, sizeof(tiny)) == -ENAMETOOLONG,
	      "path_too_long_for_buffer");
	rmdir(b);
	CHECK(mx_cgroup_path(root, id_b, path, sizeof(path)) == -ENOENT,
	      "path_of_removed_id");
	rmdir(a);
	rmdir(root);
}

static void test_signals(void)
{
	struct sigaction sa;

	/* As after "loader &" in a shell: SIGINT ignored. */
	signal(SIGINT, SIG_IGN);
	mx_setup_signals();
	sigaction(SIGINT, NULL, &sa);
	CHECK(sa.sa_handler != SIG_IGN && sa.sa_handler != SIG_DFL,
	      "SIGINT_handled_even_if_inherited_ignored");
	mx_exit_req = 0;
	raise(SIGTERM);
	CHECK(mx_exit_req == 1, "SIGTERM_requests_exit");
}

int main(void)
{
	test_fmt_bytes();
	test_cgroup_ids();
	test_signals();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
