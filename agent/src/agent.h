/* SPDX-License-Identifier: GPL-2.0 */
/* memcg_ext_agent: shared state of the daemon's parts. */
#ifndef MX_AGENT_H
#define MX_AGENT_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend.h"
#include "policy.h"

#define MX_PROTOCOL_VERSION 1
#define MX_LINE_MAX 1024
#define MX_NR_DECISIONS 16
#define MX_MAX_CLIENTS 64

enum mx_level { MX_LEVEL_NONE, MX_LEVEL_LOW, MX_LEVEL_MEDIUM, MX_LEVEL_HIGH, MX_LEVEL_CRITICAL };

/* Escalation of one workload towards a kill (F11 -> F13). */
enum mx_escalation {
	MX_ESC_NONE,
	MX_ESC_SHEDDING,	/* SHED sent, waiting for the grace period */
	MX_ESC_DRAINING,	/* scheduler told, waiting for the drain timeout */
	MX_ESC_KILLING,		/* cgroup.kill written, waiting for populated=0 */
	MX_ESC_DONE,		/* killed (and removed, if cleanup) */
};

/* An epoll source; the epoll data pointer points at one of these. */
enum mx_src_type {
	MX_SRC_SIGNAL, MX_SRC_TIMER, MX_SRC_HOST_PSI, MX_SRC_WL_PSI, MX_SRC_WL_EVENTS,
	MX_SRC_WL_CGEVENTS, MX_SRC_LISTEN, MX_SRC_CLIENT, MX_SRC_CTL_LISTEN, MX_SRC_HTTP_LISTEN,
};

struct mx_src {
	enum mx_src_type type;
	int fd;
	void *owner;
};

struct mx_decision {
	double time;
	char action[32];
	char reason[256];
	int repeat;			/* the same action again, coalesced */
};

struct mx_workload {
	struct mx_workload *next;
	char name[128];			/* policy name, or name:cgroup-basename for globs */
	char policy_name[65];
	char cgpath[PATH_MAX];
	const struct mx_workload_policy *pol;	/* re-bound on reload */
	bool seen;			/* mark for the glob rescan */

	struct mx_cg_state st;
	uint64_t t1, t2, t3;		/* resolved thresholds, 0 = not set */
	uint64_t limit_ref;		/* what percentages are of */
	enum mx_level level;
	double pressure;		/* 0..1, the Envoy injected_resource value */

	/* F8: working-set estimate and the trim probe */
	uint64_t estimate;		/* bytes, 0 = none yet */
	bool estimate_adopted;		/* taken over from before a restart */
	bool ws_confirmed;		/* a probe hit the working set (refaults/stall/metric) */
	int fresh_cycles;		/* probe cycles measured by this process */
	int fresh_hits;			/* working-set hits measured by this process */
	uint64_t probe_last_ms;
	uint64_t probe_prev_refault, probe_prev_psi_us, probe_prev_usage;
	bool probe_have_prev;
	uint64_t backoff_until_ms;
	int backoff_cycles;
	int quiet_streak;		/* quiet probes since the last back-off */
	uint64_t low_written;		/* last memory.low we wrote */
	double metric, metric_baseline, metric_avg, metric_noise;
	bool metric_seen, baseline_seen;
	bool probed_last_cycle;		/* the last cycle's metric saw our reclaim */
	uint64_t metric_ms;

	/* F11/F13 escalation */
	enum mx_escalation esc;
	char esc_reason[128];
	uint64_t esc_deadline_ms;
	uint64_t shed_id, shed_bytes, freed_bytes;
	uint64_t shed_usage_at_request;
	bool pre_kill_notified;

	/* counters, for metrics */
	uint64_t reclaimed_bytes, reclaim_calls, shed_requests, freed_total, kills;

	struct mx_src psi_src, events_src, cgevents_src;

	struct mx_decision dec[MX_NR_DECISIONS];
	int nr_dec;			/* total ever; ring index = nr_dec % N */
	uint64_t last_log_ms;
	char last_log_action[32];
};

struct mx_client {
	struct mx_src src;
	char rbuf[MX_LINE_MAX + 1];
	size_t rlen;
	pid_t pid;
	char workload[128];		/* empty until HELLO succeeded */
	bool subscribed;
	uint64_t interval_ms, last_sent_ms;
	char last_headroom_rest[256], last_pressure[256];
	uint64_t last_usage;
	bool dead;
};

struct mx_hook_child {
	pid_t pid;
	uint64_t deadline_ms;
};

struct mx_agent {
	struct mx_policy *policy;
	const char *policy_path;
	struct mx_backend be;
	bool dry_run;
	bool dry_run_forced;		/* set from the command line / CLI */
	int epfd;
	struct mx_src sig_src, timer_src, host_psi_src, listen_src, ctl_src, http_src;
	struct mx_workload *workloads;
	struct mx_client *clients[MX_MAX_CLIENTS];
	struct mx_hook_child hooks[16];
	FILE *event_log;
	bool memcg_ext_kernel;
	bool stop;
	uint64_t start_ms, last_run_ms;
	uint64_t next_shed_id;

	/* host */
	uint64_t mem_total, mem_available, host_used, host_ceiling, swap_free;
	uint64_t host_over_since_ms;
	double host_psi_some_avg10;
	uint64_t host_reclaimed_bytes;
	char features[1024];
	json_object *saved_state;	/* state.json of a previous run */
	bool host_kill_pending;
	uint64_t limits_sum, limits_share_bytes;	/* F15: sum of T3 / memory.max */
	bool limits_warned;
};

/* main.c */
void mx_watch(struct mx_agent *a, struct mx_src *src, uint32_t events);
void mx_unwatch(struct mx_agent *a, struct mx_src *src);
int mx_reload(struct mx_agent *a, json_object *reply);

/* control.c */
void mx_control_run(struct mx_agent *a, const char *why);
void mx_workloads_rescan(struct mx_agent *a);
void mx_workload_free(struct mx_agent *a, struct mx_workload *w);
struct mx_workload *mx_workload_find(struct mx_agent *a, const char *name);
struct mx_workload *mx_workload_by_cgroup(struct mx_agent *a, const char *cgpath);
void mx_decide(struct mx_agent *a, struct mx_workload *w, const char *action,
	       json_object *fields, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
const char *mx_level_name(enum mx_level l);
const char *mx_escalation_name(enum mx_escalation e);
void mx_state_load(struct mx_agent *a);
void mx_state_save(struct mx_agent *a);
void mx_features_report(struct mx_agent *a);
void mx_client_metric(struct mx_agent *a, struct mx_workload *w, const char *name, double v);
void mx_client_freed(struct mx_agent *a, struct mx_workload *w, uint64_t id, uint64_t bytes);

/* proto.c: the load-shedding socket (docs/PROTOCOL.md) */
int mx_unix_listen(const char *path, int mode);
int mx_proto_listen(struct mx_agent *a);
void mx_proto_accept(struct mx_agent *a);
void mx_proto_input(struct mx_agent *a, struct mx_client *c);
void mx_proto_update(struct mx_agent *a, struct mx_workload *w, bool force);
int mx_proto_send_workload(struct mx_agent *a, struct mx_workload *w, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int mx_proto_nr_subscribed(struct mx_agent *a, struct mx_workload *w);
void mx_proto_reap(struct mx_agent *a);

/* ctl.c: control socket, metrics, event log, scheduler hook */
int mx_ctl_listen(struct mx_agent *a);
void mx_ctl_accept(struct mx_agent *a);
int mx_http_listen(struct mx_agent *a);
void mx_http_accept(struct mx_agent *a);
void mx_event_log(struct mx_agent *a, json_object *ev);
void mx_hook_notify(struct mx_agent *a, struct mx_workload *w, const char *event,
		    const char *reason);
void mx_hook_reap(struct mx_agent *a);
json_object *mx_status_json(struct mx_agent *a);

#endif
