// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the policy parser: good files load, and every bad
 * input gets the error message it should, on the line it should. Prints
 * "PASS unit:agent_policy/<case>" or "FAIL unit:agent_policy/<case> <why>";
 * exits non-zero if anything failed.
 *
 * usage: agent_policy_test AGENT_DIR   (for agent/policies/default.yaml)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "util.h"

static int failed;
static char tmpdir[] = "/tmp/agent_policy_test.XXXXXX";

static void result(const char *name, bool ok, const char *why)
{
	if (ok) {
		printf("PASS unit:agent_policy/%s\n", name);
	} else {
		printf("FAIL unit:agent_policy/%s %s\n", name, why);
		failed = 1;
	}
}

static const char *write_tmp(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.yaml", tmpdir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

#define HEAD "host:\n  utilization_ceiling: 90%\n"

/* A bad file: the errors must include "<file>:<line>: <substring>". */
static void bad(const char *name, const char *text, int line, const char *expect)
{
	const char *path = write_tmp(name, text);
	struct mx_policy_errors errs;
	struct mx_policy *p = NULL;
	char want[512], why[1024] = "";
	bool ok = false;
	int i;

	snprintf(want, sizeof(want), "%s:%d: ", path, line);
	if (!mx_policy_load(path, &p, &errs)) {
		mx_policy_free(p);
		result(name, false, "the bad file was accepted");
		return;
	}
	if (p) {
		result(name, false, "a policy was returned along with errors");
		return;
	}
	for (i = 0; i < errs.count; i++)
		if (!strncmp(errs.msg[i], want, strlen(want)) && strstr(errs.msg[i], expect))
			ok = true;
	if (!ok)
		snprintf(why, sizeof(why), "wanted '%s...%s', got '%s'", want, expect,
			 errs.count ? errs.msg[0] : "(no error)");
	result(name, ok, why);
	mx_policy_errors_free(&errs);
}

static struct mx_policy *good(const char *name, const char *path)
{
	struct mx_policy_errors errs;
	struct mx_policy *p;

	if (mx_policy_load(path, &p, &errs)) {
		result(name, false, errs.msg[0]);
		mx_policy_errors_free(&errs);
		return NULL;
	}
	return p;
}

static void test_good(const char *agent_dir)
{
	char path[512];
	struct mx_policy *p;
	const struct mx_workload_policy *w;

	snprintf(path, sizeof(path), "%s/policies/default.yaml", agent_dir);
	p = good("default_policy", path);
	if (p) {
		result("default_policy", p->nr_workloads == 3 &&
		       p->host.utilization_ceiling.is_percent &&
		       p->host.utilization_ceiling.percent == 95 &&
		       mx_policy_find(p, "service") && mx_policy_find(p, "service")->protected,
		       "unexpected content");
		mx_policy_free(p);
	}

	p = good("full_policy", write_tmp("full", HEAD
		"  limits_share: 80%\n"
		"workloads:\n"
		"  - name: web\n"
		"    cgroup: /sys/fs/cgroup/web\n"
		"    priority: 100\n"
		"    protected: yes\n"
		"    thread_classes:\n"
		"      - { match: \"io-*\", class: never_throttle }\n"
		"      - match: gc\n"
		"        class: throttle_first\n"
		"    thresholds: { t1: 64M, t2: 96M, t3: 128M }\n"
		"    protection: { mode: static, min: 8M, low: 50% }\n"
		"    metric: { source: file:/run/web.rps, name: rps, higher_is_better: true, "
		"max_regression: 2% }\n"
		"    shedding: { enabled: true, grace_period: 1500ms }\n"
		"    on_kill: { cleanup: false, notify: true }\n"
		"    memsw_max: 1G\n"
		"scheduler:\n"
		"  hook: { socket: /run/sched.sock }\n"
		"  drain_timeout: 2m\n"
		"agent:\n"
		"  interval: 500ms\n"
		"  dry_run: true\n"
		"  metrics_listen: 127.0.0.1:9000\n"));
	if (p) {
		w = &p->workloads[0];
		result("full_policy",
		       w->t1.bytes == 64 << 20 && w->t3.bytes == 128 << 20 &&
		       w->nr_thread_rules == 2 && w->thread_rules[1].class == MX_THREAD_THROTTLE_FIRST &&
		       w->protection.mode == MX_PROT_STATIC && w->protection.low.is_percent &&
		       w->metric.source == MX_METRIC_FILE && !strcmp(w->metric.path, "/run/web.rps") &&
		       w->metric.max_regression > 0.0199 && w->metric.max_regression < 0.0201 &&
		       w->shedding.grace_period_ms == 1500 && !w->on_kill.cleanup &&
		       w->memsw_max.bytes == 1ULL << 30 && p->scheduler.drain_timeout_ms == 120000 &&
		       !strcmp(p->scheduler.hook_socket, "/run/sched.sock") &&
		       p->agent.interval_ms == 500 && p->agent.dry_run && p->host.limits_share == 80 &&
		       !strcmp(p->agent.socket, "/run/memcg_ext/agent.sock"),
		       "values not as written");
		mx_policy_free(p);
	}
	p = good("minimal_policy", write_tmp("minimal", HEAD));
	if (p) {
		result("minimal_policy", p->nr_workloads == 0 && p->agent.interval_ms == 2000,
		       "defaults not applied");
		mx_policy_free(p);
	}
}

static void test_sizes(void)
{
	uint64_t v, ms;
	struct mx_size sz;

	result("sizes", !mx_parse_bytes("16M", &v) && v == 16 << 20 &&
	       !mx_parse_bytes("1.5G", &v) && v == 3ULL << 29 &&
	       !mx_parse_bytes("4096", &v) && v == 4096 &&
	       !mx_parse_bytes("max", &v) && v == MX_UNLIMITED &&
	       !mx_parse_bytes("64MiB", &v) && v == 64 << 20 &&
	       mx_parse_bytes("-1M", &v) && mx_parse_bytes("12Q", &v) && mx_parse_bytes("", &v) &&
	       !mx_parse_size("80%", true, &sz) && sz.is_percent && sz.percent == 80 &&
	       mx_parse_size("80%", false, &sz) && mx_parse_size("180%", true, &sz) &&
	       !mx_parse_duration_ms("250ms", &ms) && ms == 250 &&
	       !mx_parse_duration_ms("2m", &ms) && ms == 120000 &&
	       !mx_parse_duration_ms("3", &ms) && ms == 3000 &&
	       mx_parse_duration_ms("3 days", &ms) && mx_parse_duration_ms("fast", &ms),
	       "a size or duration parsed wrongly");
}

static void test_bad(void)
{
	bad("missing_file_syntax", "host: [1, 2\n", 2, "YAML syntax error");
	bad("empty_file", "", 1, "the file is empty");
	bad("no_ceiling", "workloads: []\n", 1, "host.utilization_ceiling is required");
	bad("unknown_top_key", HEAD "wrkloads: []\n", 3, "unknown key 'wrkloads' in the top level");
	bad("unknown_host_key", HEAD "  ceiling: 5%\n", 3, "unknown key 'ceiling' in host");
	bad("ceiling_not_size", "host:\n  utilization_ceiling: lots\n", 2,
	    "host.utilization_ceiling: 'lots' is not a size");
	bad("ceiling_over_100", "host:\n  utilization_ceiling: 120%\n", 2,
	    "host.utilization_ceiling: '120%' is not a size");
	bad("ceiling_zero", "host:\n  utilization_ceiling: 0%\n", 2, "must be above zero");
	bad("workloads_not_list", HEAD "workloads: {a: 1}\n", 3, "workloads: expected a list");
	bad("workload_no_name", HEAD "workloads:\n  - cgroup: x\n", 4, "'name' is required");
	bad("workload_no_cgroup", HEAD "workloads:\n  - name: x\n", 4,
	    "workload 'x': 'cgroup' is required");
	bad("workload_bad_name", HEAD "workloads:\n  - name: \"a b\"\n    cgroup: x\n", 4,
	    "name must be 1-64 characters");
	bad("workload_dup", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "  - name: a\n    cgroup: y\n", 6, "workload 'a' is declared twice (first on line 4)");
	bad("workload_unknown_key", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    priorty: 3\n", 6, "unknown key 'priorty' in workload");
	bad("workload_dup_key", HEAD "workloads:\n  - name: a\n    cgroup: x\n    cgroup: y\n",
	    6, "duplicate key 'cgroup' in workload");
	bad("cgroup_outside", HEAD "workloads:\n  - name: a\n    cgroup: /etc\n", 4,
	    "must be a path under /sys/fs/cgroup");
	bad("cgroup_dotdot", HEAD "workloads:\n  - name: a\n    cgroup: a/../../b\n", 4,
	    "without '..'");
	bad("priority_not_int", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    priority: high\n", 6, "priority: 'high' is not an integer");
	bad("priority_range", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    priority: 99999999\n", 6, "priority: 99999999 is out of range");
	bad("protected_not_bool", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    protected: maybe\n", 6, "protected: 'maybe' is not a boolean");
	bad("threshold_order", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    thresholds: { t1: 90%, t2: 80% }\n", 4, "thresholds.t1 must be below thresholds.t2");
	bad("threshold_bad_size", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    thresholds:\n      t3: 12 parsecs\n", 7, "thresholds.t3: '12 parsecs' is not a size");
	bad("threshold_unknown", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    thresholds: { t4: 1M }\n", 6, "unknown key 't4' in thresholds (known: t1, t2, t3)");
	bad("class_unknown", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    thread_classes:\n      - { match: \"x*\", class: sometimes }\n", 7,
	    "thread_classes.class: 'sometimes' is not one of: never_throttle, normal, throttle_first");
	bad("class_no_match", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    thread_classes:\n      - { class: normal }\n", 7, "'match' is required");
	bad("thread_classes_not_list", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    thread_classes: io\n", 6, "thread_classes: expected a list");
	bad("mode_unknown", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    protection: { mode: magic }\n", 6, "protection.mode: 'magic' is not one of: off, "
	    "static, dynamic");
	bad("static_needs_value", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    protection: { mode: static }\n", 4, "protection mode static needs 'min' or 'low'");
	bad("metric_source", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    metric: { source: http, name: q }\n", 6,
	    "metric.source: 'http' is not 'client' or 'file:/absolute/path'");
	bad("metric_no_source", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    metric: { name: q }\n", 6, "metric: 'source' is required");
	bad("metric_no_name", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    metric: { source: client }\n", 4, "metric needs a 'name'");
	bad("regression_percent", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    metric: { source: client, name: q, max_regression: 0.01 }\n", 6,
	    "metric.max_regression: '0.01' is not a percentage");
	bad("grace_not_duration", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    shedding: { enabled: true, grace_period: soon }\n", 6,
	    "shedding.grace_period: 'soon' is not a duration");
	bad("grace_zero", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    shedding: { enabled: true, grace_period: 0s }\n", 4,
	    "shedding.grace_period must be above zero");
	bad("memsw_percent", HEAD "workloads:\n  - name: a\n    cgroup: x\n"
	    "    memsw_max: 50%\n", 6, "memsw_max: '50%' is not a size (bytes with K/M/G suffix)");
	bad("hook_both", HEAD "scheduler:\n  hook: { command: x, socket: /run/s }\n", 4,
	    "give either 'command' or 'socket', not both");
	bad("hook_socket_relative", HEAD "scheduler:\n  hook: { socket: run/s }\n", 4,
	    "scheduler.hook.socket: must be an absolute path");
	bad("agent_relative_path", HEAD "agent:\n  socket: agent.sock\n", 4,
	    "agent.socket: must be an absolute path");
	bad("agent_listen", HEAD "agent:\n  metrics_listen: 9317\n", 4,
	    "agent.metrics_listen: expected host:port");
	bad("agent_interval", HEAD "agent:\n  interval: 10ms\n", 4, "agent.interval: at least 100ms");
	bad("agent_section_scalar", HEAD "agent: fast\n", 3, "agent: expected a mapping");
	bad("list_as_value", HEAD "workloads:\n  - name: [a, b]\n    cgroup: x\n", 4,
	    "name: expected a single value");
}

/* Several errors in one file: all are reported, each on its own line. */
static void test_many_errors(void)
{
	const char *path = write_tmp("many", HEAD "  bogus: 1\nworkloads:\n"
				     "  - name: a\n    cgroup: x\n    priority: x\n"
				     "    shedding: { enabled: maybe }\n");
	struct mx_policy_errors errs;
	struct mx_policy *p;
	char l3[300], l7[300], l8[300];
	bool ok = false;

	snprintf(l3, sizeof(l3), "%s:3: unknown key 'bogus'", path);
	snprintf(l7, sizeof(l7), "%s:7: priority:", path);
	snprintf(l8, sizeof(l8), "%s:8: shedding.enabled:", path);
	if (mx_policy_load(path, &p, &errs) && errs.count == 3)
		ok = !strncmp(errs.msg[0], l3, strlen(l3)) && !strncmp(errs.msg[1], l7, strlen(l7)) &&
		     !strncmp(errs.msg[2], l8, strlen(l8));
	result("all_errors_reported", ok, errs.count ? errs.msg[0] : "no errors");
	mx_policy_errors_free(&errs);
}

int main(int argc, char **argv)
{
	char cmd[300];

	if (argc != 2 || !mkdtemp(tmpdir)) {
		fprintf(stderr, "usage: agent_policy_test AGENT_DIR\n");
		return 2;
	}
	test_sizes();
	test_good(argv[1]);
	test_bad();
	test_many_errors();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return failed;
}
