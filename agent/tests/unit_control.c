// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the agent's decisions, through a mock backend: the
 * policy is real, the cgroups are directories in a temporary "cgroup
 * root" (for the glob), and their state lives in this file. Checks that
 * T1 reclaims, dry-run calls nothing that writes, T3 escalates to a kill
 * and a cleanup, a protected workload is spared, the host ceiling trims
 * the lowest priority first and picks it as the victim, and adopted
 * protection is not lowered.
 *
 * Prints "PASS unit:agent_control/<case>" or "FAIL ... <why>".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"

#define MB (1ULL << 20)

static int failed;
static FILE *out;	/* the real stdout: the agent prints its decisions on stdout */
static char root[] = "/tmp/agent_control_test.XXXXXX";

struct mock_cg {
	char path[PATH_MAX];
	struct mx_cg_state st;
	uint64_t reclaimable;
	int writes, reclaims, kills, removes;
	uint64_t reclaimed;
};

static struct mock_cg cgs[8];
static int nr_cgs;

static struct mock_cg *mock(const char *path)
{
	int i;

	for (i = 0; i < nr_cgs; i++)
		if (!strcmp(cgs[i].path, path))
			return &cgs[i];
	return NULL;
}

static int m_read_state(struct mx_backend *be, const char *cg, struct mx_cg_state *st)
{
	struct mock_cg *m = mock(cg);

	(void)be;
	if (!m || access(cg, F_OK))
		return -ENOENT;
	*st = m->st;
	return 0;
}

static int m_set_limit(struct mx_backend *be, const char *cg, enum mx_limit l, uint64_t bytes)
{
	struct mock_cg *m = mock(cg);

	(void)be;
	m->writes++;
	if (l == MX_LIMIT_LOW)
		m->st.low = bytes;
	else if (l == MX_LIMIT_MIN)
		m->st.min = bytes;
	else if (l == MX_LIMIT_SWAP_MAX)
		m->st.swap_max = bytes;
	return 0;
}

static int m_reclaim(struct mx_backend *be, const char *cg, uint64_t bytes)
{
	struct mock_cg *m = mock(cg);
	uint64_t got = bytes < m->reclaimable ? bytes : m->reclaimable;

	(void)be;
	m->reclaims++;
	m->reclaimed += got;
	m->reclaimable -= got;
	m->st.current -= got;
	m->st.file = m->st.file > got ? m->st.file - got : 0;
	return got < bytes ? -EAGAIN : 0;
}

static int m_kill(struct mx_backend *be, const char *cg)
{
	struct mock_cg *m = mock(cg);

	(void)be;
	m->kills++;
	m->st.populated = false;
	m->st.current = 0;
	return 0;
}

static int m_remove(struct mx_backend *be, const char *cg)
{
	struct mock_cg *m = mock(cg);

	(void)be;
	m->removes++;
	return rmdir(cg) ? -errno : 0;
}

static int m_no_fd(struct mx_backend *be, const char *cg, uint64_t a, uint64_t b)
{
	(void)be; (void)cg; (void)a; (void)b;
	return -ENOENT;
}

static int m_no_events(struct mx_backend *be, const char *cg, const char *file)
{
	(void)be; (void)cg; (void)file;
	return -ENOENT;
}

static const struct mx_backend_ops mock_ops = {
	.name = "mock",
	.read_state = m_read_state,
	.set_limit = m_set_limit,
	.reclaim = m_reclaim,
	.kill = m_kill,
	.remove = m_remove,
	.psi_trigger = m_no_fd,
	.events_fd = m_no_events,
};

/* What main.c provides to the rest of the agent. */
void mx_watch(struct mx_agent *a, struct mx_src *src, uint32_t events)
{
	(void)a; (void)src; (void)events;
}

void mx_unwatch(struct mx_agent *a, struct mx_src *src)
{
	(void)a;
	src->fd = -1;
}

int mx_reload(struct mx_agent *a, json_object *reply)
{
	(void)a; (void)reply;
	return 0;
}

static void result(const char *name, bool ok, const char *why)
{
	fprintf(out, "%s unit:agent_control/%s%s%s\n", ok ? "PASS" : "FAIL", name, ok ? "" : " ",
		ok ? "" : why);
	fflush(out);
	if (!ok)
		failed = 1;
}

static struct mock_cg *add_cg(const char *name, uint64_t current, uint64_t reclaimable)
{
	struct mock_cg *m = &cgs[nr_cgs++];

	memset(m, 0, sizeof(*m));
	snprintf(m->path, sizeof(m->path), "%s/%s", root, name);
	mkdir(m->path, 0755);
	m->st.exists = m->st.populated = true;
	m->st.current = current;
	m->st.max = m->st.high = m->st.swap_max = MX_UNLIMITED;
	m->st.file = reclaimable;
	m->reclaimable = reclaimable;
	return m;
}

/* An agent on POLICY-BODY (workloads etc.), with the mock backend. */
static struct mx_agent *agent_new(const char *body, bool dry_run)
{
	struct mx_agent *a = calloc(1, sizeof(*a));
	struct mx_policy_errors errs;
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/policy.yaml", root);
	f = fopen(path, "w");
	fprintf(f, "%s\nagent:\n  cgroup_root: %s\n  state_file: %s/state.json\n"
		"  pressure_dir: %s\n  interval: 1s\n", body, root, root, root);
	fclose(f);
	if (mx_policy_load(path, &a->policy, &errs)) {
		fprintf(stderr, "%s\n", errs.msg[0]);
		exit(2);
	}
	a->be.ops = &mock_ops;
	a->dry_run = dry_run;
	a->start_ms = mx_now_ms() - 100000;	/* past the start-up grace */
	return a;
}

static void agent_free(struct mx_agent *a)
{
	while (a->workloads) {
		struct mx_workload *w = a->workloads;

		a->workloads = w->next;
		mx_workload_free(a, w);
	}
	json_object_put(a->saved_state);
	mx_policy_free(a->policy);
	free(a);
}

static void reset(void)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf %s/*", root);
	if (system(cmd))
		exit(2);
	nr_cgs = 0;
}

static void test_t1_and_dry_run(void)
{
	static const char pol[] = "host:\n  utilization_ceiling: 100%\nworkloads:\n"
		"  - name: w\n    cgroup: w\n    thresholds: { t1: 40M, t2: 60M, t3: 80M }\n"
		"    memsw_max: 200M\n";
	struct mx_agent *a;
	struct mock_cg *m;
	char why[128];

	reset();
	m = add_cg("w", 50 * MB, 30 * MB);
	m->st.max = 100 * MB;
	a = agent_new(pol, true);
	mx_control_run(a, "test");
	mx_control_run(a, "test");
	result("dry_run_writes_nothing", m->writes == 0 && m->reclaims == 0 && m->kills == 0,
	       "the backend was asked to change something");
	agent_free(a);

	a = agent_new(pol, false);
	mx_control_run(a, "test");
	snprintf(why, sizeof(why), "reclaimed %llu MiB, usage %llu MiB",
		 (unsigned long long)(m->reclaimed >> 20), (unsigned long long)(m->st.current >> 20));
	result("t1_reclaims_under_t1", m->reclaims == 1 && m->st.current < 40 * MB &&
	       m->st.current > 36 * MB, why);
	result("memsw_sets_swap_max", m->st.swap_max == 100 * MB, "memory.swap.max not 200M - 100M");
	agent_free(a);
}

static void test_t3_kill(void)
{
	static const char pol[] = "host:\n  utilization_ceiling: 100%\nworkloads:\n"
		"  - name: svc\n    cgroup: svc\n    protected: true\n"
		"    thresholds: { t3: 80M }\n"
		"  - name: job\n    cgroup: job\n    thresholds: { t3: 80M }\n"
		"    on_kill: { cleanup: true, notify: false }\n";
	struct mx_agent *a;
	struct mock_cg *svc, *job;

	reset();
	svc = add_cg("svc", 90 * MB, 0);
	job = add_cg("job", 90 * MB, 0);
	a = agent_new(pol, false);
	mx_control_run(a, "test");	/* no hook, no client: straight to the kill */
	result("protected_spared", svc->kills == 0 && job->kills == 1,
	       "the protected workload was killed while another could free memory");
	mx_control_run(a, "test");	/* empty now: removed */
	result("t3_kills_and_removes", job->kills == 1 && job->removes == 1 &&
	       access(job->path, F_OK) != 0, "the job was not killed and removed");
	agent_free(a);
}

static void test_host_ceiling(void)
{
	char pol[512];
	struct mx_agent *a;
	struct mock_cg *hi, *lo, *prot;
	int i;

	/* A 1-byte ceiling: always over, nothing is enough. */
	snprintf(pol, sizeof(pol), "host:\n  utilization_ceiling: 1\nworkloads:\n"
		 "  - name: prot\n    cgroup: prot\n    priority: 1\n    protected: true\n"
		 "  - name: hi\n    cgroup: hi\n    priority: 50\n"
		 "  - name: lo\n    cgroup: lo\n    priority: 10\n");
	reset();
	prot = add_cg("prot", 20 * MB, 8 * MB);
	hi = add_cg("hi", 20 * MB, 8 * MB);
	lo = add_cg("lo", 20 * MB, 8 * MB);
	a = agent_new(pol, false);
	mx_control_run(a, "test");
	result("host_trims_all_reclaimable", lo->reclaimed == 8 * MB && hi->reclaimed == 8 * MB &&
	       prot->reclaimed == 8 * MB, "not everything reclaimable was trimmed");
	/* Over for two intervals: escalation. */
	a->host_over_since_ms -= 5000;
	for (i = 0; i < 3; i++)
		mx_control_run(a, "test");
	result("host_victim_lowest_priority", lo->kills == 1 && hi->kills == 0 && prot->kills == 0,
	       "the victim was not the lowest-priority workload, or more than one died");
	/* Still over two intervals after that kill: the next one, never the protected first. */
	a->host_over_since_ms -= 5000;
	for (i = 0; i < 2; i++)
		mx_control_run(a, "test");
	result("host_next_victim_not_protected", hi->kills == 1 && prot->kills == 0,
	       "the second victim was not the unprotected one");
	agent_free(a);
}

static void test_adopt(void)
{
	static const char pol[] = "host:\n  utilization_ceiling: 100%\nworkloads:\n"
		"  - name: w\n    cgroup: w\n    protection: { mode: dynamic }\n";
	struct mx_agent *a;
	struct mock_cg *m;
	int i;

	reset();
	m = add_cg("w", 40 * MB, 40 * MB);
	m->st.low = 30 * MB;	/* an operator, or the agent before a restart */
	a = agent_new(pol, false);
	for (i = 0; i < 4; i++) {
		mx_control_run(a, "test");
		a->workloads->probe_last_ms -= 2000;	/* next cycle is a probe cycle */
	}
	result("adopted_low_not_lowered", m->st.low >= 30 * MB && a->workloads->estimate_adopted,
	       "memory.low was lowered before a fresh estimate");
	agent_free(a);
}

/* The scheduler hook on a socket: pre_kill and killed, one JSON line each. */
static void test_hook_socket(void)
{
	char pol[1024], sock[96], buf[4096] = "";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct mx_agent *a;
	struct mock_cg *m;
	int lfd, fd, n = 0, i;

	reset();
	snprintf(sock, sizeof(sock), "%s/sched.sock", root);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 8))
		exit(2);
	snprintf(pol, sizeof(pol), "host:\n  utilization_ceiling: 100%%\nworkloads:\n"
		 "  - name: job\n    cgroup: job\n    thresholds: { t3: 10M }\n"
		 "scheduler:\n  hook: { socket: %s }\n  drain_timeout: 1ms\n", sock);
	m = add_cg("job", 20 * MB, 0);
	a = agent_new(pol, false);
	for (i = 0; i < 3; i++) {
		mx_control_run(a, "test");
		usleep(2000);
	}
	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);

		if (r > 0)
			n += r;
		close(fd);
	}
	buf[n] = '\0';
	result("hook_socket_events", m->kills == 1 &&
	       strstr(buf, "{\"event\":\"pre_kill\",\"workload\":\"job\"") &&
	       strstr(buf, "{\"event\":\"killed\",\"workload\":\"job\""), buf);
	close(lfd);
	agent_free(a);
}

static void test_limits_share(void)
{
	static const char pol[] = "host:\n  utilization_ceiling: 100%\n  limits_share: 1%\n"
		"workloads:\n  - name: w\n    cgroup: w\n    thresholds: { t3: 1G }\n";
	struct mx_agent *a;

	reset();
	add_cg("w", 10 * MB, 0);
	a = agent_new(pol, false);
	mx_control_run(a, "test");
	result("limits_share_reported", a->limits_sum == 1ULL << 30 && a->limits_warned,
	       "the sum of limits over limits_share was not reported");
	agent_free(a);
}

int main(void)
{
	char cmd[PATH_MAX + 16];

	if (!mkdtemp(root))
		return 2;
	out = fdopen(dup(1), "w");
	if (!out || !freopen("/dev/null", "w", stdout))
		return 2;
	test_t1_and_dry_run();
	test_t3_kill();
	test_host_ceiling();
	test_adopt();
	test_limits_share();
	test_hook_socket();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd))
		return 2;
	return failed;
}
