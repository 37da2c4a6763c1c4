/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The declarative host policy (docs/POLICY.md): parsed from YAML with
 * libyaml and validated completely before the agent applies any of it.
 */
#ifndef MX_POLICY_H
#define MX_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

enum mx_thread_class {
	MX_THREAD_NEVER_THROTTLE,
	MX_THREAD_NORMAL,
	MX_THREAD_THROTTLE_FIRST,
};

enum mx_protection_mode {
	MX_PROT_OFF,
	MX_PROT_STATIC,
	MX_PROT_DYNAMIC,
};

enum mx_metric_source {
	MX_METRIC_NONE,
	MX_METRIC_CLIENT,	/* METRIC lines on the load-shedding socket */
	MX_METRIC_FILE,		/* a file holding one number */
};

struct mx_thread_rule {
	char *match;		/* fnmatch() pattern on the thread name (comm) */
	enum mx_thread_class class;
};

struct mx_workload_policy {
	int line;		/* where it was declared, for messages */
	char *name;
	char *cgroup;		/* path or glob, relative to the cgroup root */
	int priority;		/* higher = more important, dies last */
	bool protected;		/* never the victim while others can free memory */
	struct mx_thread_rule *thread_rules;
	int nr_thread_rules;
	struct mx_size t1, t2, t3;	/* percent: of memory.max (MemTotal if none) */
	struct {
		enum mx_protection_mode mode;
		struct mx_size min, low;	/* static values, or floors (dynamic) */
		double probe_step;	/* percent of usage reclaimed per probe */
		double refault_target;	/* refaulted percent of usage per second */
		double psi_target;	/* some-stall percent of wall time */
	} protection;
	struct {
		enum mx_metric_source source;
		char *path;
		char *name;
		bool higher_is_better;
		double max_regression;	/* fraction, 0.01 = 1% */
	} metric;
	struct {
		bool enabled;
		uint64_t grace_period_ms;
	} shedding;
	struct {
		bool cleanup;
		bool notify;
	} on_kill;
	struct mx_size memsw_max;	/* F7: memory + swap, via memory.swap.max */
};

struct mx_policy {
	char *file;
	struct {
		struct mx_size utilization_ceiling;	/* percent of MemTotal, or bytes */
		double limits_share;			/* percent of MemTotal */
	} host;
	struct mx_workload_policy *workloads;
	int nr_workloads;
	struct {
		char *hook_command;
		char *hook_socket;
		uint64_t drain_timeout_ms;
	} scheduler;
	struct {
		char *socket;
		char *control_socket;
		char *metrics_listen;	/* host:port, empty = off */
		char *event_log;
		char *state_file;
		char *pressure_dir;
		char *cgroup_root;
		uint64_t interval_ms;
		bool dry_run;
	} agent;
};

/*
 * Errors are collected, not just the first: each is "file:line: message".
 */
#define MX_POLICY_MAX_ERRORS 32
struct mx_policy_errors {
	int count;
	char *msg[MX_POLICY_MAX_ERRORS];
};

/* 0 and *out set, or -1 with errs filled; never a half-built policy. */
int mx_policy_load(const char *path, struct mx_policy **out, struct mx_policy_errors *errs);
void mx_policy_free(struct mx_policy *p);
void mx_policy_errors_free(struct mx_policy_errors *errs);

const char *mx_thread_class_name(enum mx_thread_class c);
const char *mx_protection_mode_name(enum mx_protection_mode m);
const struct mx_workload_policy *mx_policy_find(const struct mx_policy *p, const char *name);

#endif
