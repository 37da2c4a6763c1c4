// SPDX-License-Identifier: GPL-2.0
/*
 * Policy file parser. libyaml's document API keeps the position of every
 * node, so every error names the line it is about. Each section is a
 * table of known keys: anything else is an error, not silently ignored,
 * because a misspelt key in a memory policy is a policy that does not do
 * what its author thinks.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "policy.h"

struct pctx {
	const char *file;
	yaml_document_t *doc;
	struct mx_policy_errors *errs;
};

static void __attribute__((format(printf, 3, 4)))
perr(struct pctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[512], *full;
	va_list ap;

	if (c->errs->count >= MX_POLICY_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (asprintf(&full, "%s:%zu: %s", c->file,
		     n ? n->start_mark.line + 1 : 1, msg) < 0)
		return;
	c->errs->msg[c->errs->count++] = full;
}

static const char *scalar(struct pctx *c, yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE) {
		perr(c, n, "%s: expected a single value", what);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

static char *get_str(struct pctx *c, yaml_node_t *n, const char *what)
{
	const char *s = scalar(c, n, what);

	if (!s)
		return NULL;
	if (!*s) {
		perr(c, n, "%s: empty value", what);
		return NULL;
	}
	return strdup(s);
}

static void set_str(struct pctx *c, yaml_node_t *n, const char *what, char **dst)
{
	char *s = get_str(c, n, what);

	if (s) {
		free(*dst);
		*dst = s;
	}
}

static void get_bool(struct pctx *c, yaml_node_t *n, const char *what, bool *dst)
{
	const char *s = scalar(c, n, what);

	if (!s)
		return;
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
		*dst = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
		*dst = false;
	else
		perr(c, n, "%s: '%s' is not a boolean (true or false)", what, s);
}

static void get_int(struct pctx *c, yaml_node_t *n, const char *what,
		    int lo, int hi, int *dst)
{
	const char *s = scalar(c, n, what);
	char *end;
	long v;

	if (!s)
		return;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end)
		perr(c, n, "%s: '%s' is not an integer", what, s);
	else if (v < lo || v > hi)
		perr(c, n, "%s: %ld is out of range [%d, %d]", what, v, lo, hi);
	else
		*dst = (int)v;
}

static void get_size(struct pctx *c, yaml_node_t *n, const char *what,
		     bool allow_percent, struct mx_size *dst)
{
	const char *s = scalar(c, n, what);

	if (!s)
		return;
	if (mx_parse_size(s, allow_percent, dst))
		perr(c, n, "%s: '%s' is not a size (%s)", what, s,
		     allow_percent ? "bytes with K/M/G suffix, or a percentage like 80%" :
				     "bytes with K/M/G suffix");
}

static void get_percent(struct pctx *c, yaml_node_t *n, const char *what, double *dst)
{
	const char *s = scalar(c, n, what);

	if (!s)
		return;
	if (mx_parse_percent(s, dst))
		perr(c, n, "%s: '%s' is not a percentage between 0%% and 100%%", what, s);
}

static void get_duration(struct pctx *c, yaml_node_t *n, const char *what, uint64_t *dst)
{
	const char *s = scalar(c, n, what);

	if (!s)
		return;
	if (mx_parse_duration_ms(s, dst))
		perr(c, n, "%s: '%s' is not a duration (e.g. 500ms, 10s, 2m)", what, s);
}

static int get_enum(struct pctx *c, yaml_node_t *n, const char *what,
		    const char *const *names, int nr, int *dst)
{
	const char *s = scalar(c, n, what);
	char allowed[256] = "";
	int i;

	if (!s)
		return -1;
	for (i = 0; i < nr; i++) {
		if (!strcmp(s, names[i])) {
			*dst = i;
			return 0;
		}
		snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed),
			 "%s%s", i ? ", " : "", names[i]);
	}
	perr(c, n, "%s: '%s' is not one of: %s", what, s, allowed);
	return -1;
}

/*
 * Walk a mapping: for each key known in `keys`, call fn(ctx, index, value).
 * Unknown and duplicate keys are errors.
 */
typedef void (*key_fn)(struct pctx *c, int key, yaml_node_t *val, void *arg);

static void walk_map(struct pctx *c, yaml_node_t *map, const char *section,
		     const char *const *keys, int nr_keys, key_fn fn, void *arg)
{
	yaml_node_pair_t *pair;
	unsigned long seen = 0;
	char allowed[512] = "";
	int i;

	if (map->type != YAML_MAPPING_NODE) {
		perr(c, map, "%s: expected a mapping (key: value lines)", section);
		return;
	}
	for (i = 0; i < nr_keys; i++)
		snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed),
			 "%s%s", i ? ", " : "", keys[i]);
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, pair->value);
		const char *name;

		if (!k || !v)
			continue;
		if (k->type != YAML_SCALAR_NODE) {
			perr(c, k, "%s: keys must be plain words", section);
			continue;
		}
		name = (const char *)k->data.scalar.value;
		for (i = 0; i < nr_keys; i++)
			if (!strcmp(name, keys[i]))
				break;
		if (i == nr_keys) {
			perr(c, k, "unknown key '%s' in %s (known: %s)", name, section, allowed);
			continue;
		}
		if (seen & (1UL << i)) {
			perr(c, k, "duplicate key '%s' in %s", name, section);
			continue;
		}
		seen |= 1UL << i;
		fn(c, i, v, arg);
	}
}

/* ---- host ---- */

static const char *const host_keys[] = { "utilization_ceiling", "limits_share" };

static void host_key(struct pctx *c, int key, yaml_node_t *v, void *arg)
{
	struct mx_policy *p = arg;

	switch (key) {
	case 0:
		get_size(c, v, "host.utilization_ceiling", true, &p->host.utilization_ceiling);
		if (p->host.utilization_ceiling.set &&
		    ((p->host.utilization_ceiling.is_percent &&
		      p->host.utilization_ceiling.percent < 1) ||
		     (!p->host.utilization_ceiling.is_percent &&
		      !p->host.utilization_ceiling.bytes)))
			perr(c, v, "host.utilization_ceiling: must be above zero");
		break;
	case 1:
		get_percent(c, v, "host.limits_share", &p->host.limits_share);
		break;
	}
}

/* ---- workloads ---- */

static const char *const class_names[] = { "never_throttle", "normal", "throttle_first" };
static const char *const mode_names[] = { "off", "static", "dynamic" };

const char *mx_thread_class_name(enum mx_thread_class cl)
{
	return class_names[cl];
}

const char *mx_protection_mode_name(enum mx_protection_mode m)
{
	return mode_names[m];
}

struct rule_ctx {
	struct mx_thread_rule *rule;
	bool has_match, has_class;
};

static const char *const rule_keys[] = { "match", "class" };

static void rule_key(struct pctx *c, int key, yaml_node_t *v, void *arg)
{
	struct rule_ctx *r = arg;
	int cl;

	if (key == 0) {
		set_str(c, v, "thread_classes.match", &r->rule->match);
		r->has_match = r->rule->match != NULL;
	} else if (!get_enum(c, v, "thread_classes.class", class_names,
			     ARRAY_SIZE(class_names), &cl)) {
		r->rule->class = cl;
		r->has_class = true;
	}
}

static void parse_thread_rules(struct pctx *c, yaml_node_t *seq, struct mx_workload_policy *w)
{
	yaml_node_item_t *it;
	int n;

	if (seq->type != YAML_SEQUENCE_NODE) {
		perr(c, seq, "thread_classes: expected a list of {match, class}");
		return;
	}
	n = seq->data.sequence.items.top - seq->data.sequence.items.start;
	w->thread_rules = calloc(n ? n : 1, sizeof(*w->thread_rules));
	for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(c->doc, *it);
		struct rule_ctx r = { .rule = &w->thread_rules[w->nr_thread_rules] };

		r.rule->class = MX_THREAD_NORMAL;
		walk_map(c, item, "thread_classes entry", rule_keys, ARRAY_SIZE(rule_keys),
			 rule_key, &r);
		if (item->type != YAML_MAPPING_NODE)
			continue;
		w->nr_thread_rules++;
		if (!r.has_match)
			perr(c, item, "thread_classes entry: 'match' is required");
		if (!r.has_class)
			perr(c, item, "thread_classes entry: 'class' is required");
	}
}

static const char *const threshold_keys[] = { "t1", "t2", "t3" };

static void threshold_key(struct pctx *c, int key, yaml_node_t *v, void *arg)
{
	struct mx_workload_policy *w = arg;
	struct mx_size *t[] = { &w->t1, &w->t2, &w->t3 };
	char what[32];

	snprintf(what, sizeof(what), "thresholds.%s", threshold_keys[key]);
	get_size(c, v, what, true, t[key]);
}

static const char *const protection_keys[] = {
	"mode", "min", "low", "probe_step", "refault_target", "psi_target",
};

static void protection_key(struct pctx *c, int key, yaml_node_t *v, void *arg)
{
	struct mx_workload_policy *w = arg;
	int m;

	switch (key) {
	case 0:
		if (!get_enum(c, v, "protection.mode", mode_names, ARRAY_SIZE(mode_names), &m))
			w->protection.mode = m;
		break;
	case 1: get_size(c, v, "protection.min", true, &w->protection.min); break;
	case 2: get_size(c, v, "protection.low", true, &w->protection.low); break;
	case 3: get_percent(c, v, "protection.probe_step", &w->protection.probe_step); break;
	case 4: get_percent(c, v, "protection.refault_target", &w->protection.refault_target); break;
	case 5: get_percent(c, v, "protection.psi_target", &w->protection.psi_target); break;
	}
}

static const char *const metric_keys[] = { "source", "name", "higher_is_better", "max_regression" };

static void metric_key(struct pctx *c, int key, yaml_node_t *v, void *arg)
{
	struct mx_workload_policy *w = arg;
	const char *s;
	double pct;

	switch (key) {
	case 0:
		s = scalar(c, v, "metric.source");
		if (!s)
			break;
		if (!strcmp(s, "client")) {
			w->metric.source = MX_METRIC_CLIENT;
		} else if (!strncmp(s, "file:", 5) && s[5] == '/') {
			w->metric.source = MX_METRIC_FILE;
			free(w->metric.path);
			w->metric.path = strdup(s + 5);
		} else {
			perr(c, v, "metric.source: '%s' is not 'client' or 'file:/absolute/path'", s);
		}
		break;
	case 1: set_str(c, v, "metric.name", &w->metric.name); break;
	case 2: get_bool(c, v, "metric.higher_is_better", &w->metric.higher_is_better); break;
	case 3:
		pct = -1;
		get_percent(c, v, "metric.max_regression", &pct);
		if (pct >= 0)
			w->metric.max_regression = pct / 100.0;
		break;
	}
}

static const char *const shedding_keys[] = { "enabled", "grace_period" };

static void shedding_key(struct pctx *c, int key, yaml_node_t *v, void *arg)
{
	struct mx_workload_policy *w = arg;

	if (key == 0)
		get_bool(c, v, "shedding.enabled", &w->shedding.enabled);
	else
		get_duration(c, v, "shedding.grace_period", &w->shedding.grace_period_ms);
}

static const char *const on_kill_keys[] = { "cleanup", "notify" };

static void on_kill_key(struct pctx *c, int key, yaml_node_t *v, void *arg)
{
	struct mx_workload_policy *w = arg;

	get_bool(c, v, key ? "on_kill.notify" : "on_kill.cleanup",
		 key ? &w->on_kill.notify : &w->on_kill.cleanup);
}

static const char *const workload_keys[] = {
	"name", "cgroup", "priority", "protected", "thread_classes", "thresholds",
	"protection", "metric", "shedding", "on_kill", "memsw_max",
};

static void workload_key(struct pctx *c, int key, yaml_node_t *v, void *arg)
{
	struct mx_workload_policy *w = arg;

	switch (key) {
	case 0: set_str(c, v, "name", &w->name); break;
	case 1: set_str(c, v, "cgroup", &w->cgroup); break;
	case 2: get_int(c, v, "priority", -1000000, 1000000, &w->priority); break;
	case 3: get_bool(c, v, "protected", &w->protected); break;
	case 4: parse_thread_rules(c, v, w); break;
	case 5: walk_map(c, v, "thresholds", threshold_keys, ARRAY_SIZE(threshold_keys),
			 threshold_key, w); break;
	case 6: walk_map(c, v, "protection", protection_keys, ARRAY_SIZE(protection_keys),
			 protection_key, w); break;
	case 7:
		walk_map(c, v, "metric", metric_keys, ARRAY_SIZE(metric_keys), metric_key, w);
		if (w->metric.source == MX_METRIC_NONE && v->type == YAML_MAPPING_NODE)
			perr(c, v, "metric: 'source' is required (client or file:/path)");
		break;
	case 8: walk_map(c, v, "shedding", shedding_keys, ARRAY_SIZE(shedding_keys),
			 shedding_key, w); break;
	case 9: walk_map(c, v, "on_kill", on_kill_keys, ARRAY_SIZE(on_kill_keys),
			 on_kill_key, w); break;
	case 10: get_size(c, v, "memsw_max", false, &w->memsw_max); break;
	}
}

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

/* Two sizes of the same kind must be ordered; mixed kinds are checked at run time. */
static void check_order(struct pctx *c, yaml_node_t *n, const char *wname,
			const struct mx_size *a, const char *an,
			const struct mx_size *b, const char *bn)
{
	if (!a->set || !b->set || a->is_percent != b->is_percent)
		return;
	if (a->is_percent ? a->percent >= b->percent : a->bytes >= b->bytes)
		perr(c, n, "workload '%s': thresholds.%s must be below thresholds.%s", wname, an, bn);
}

static void validate_workload(struct pctx *c, yaml_node_t *n, struct mx_workload_policy *w)
{
	const char *name = w->name ? w->name : "?";

	if (!w->name)
		perr(c, n, "workload: 'name' is required");
	else if (!valid_name(w->name))
		perr(c, n, "workload '%s': name must be 1-64 characters of [A-Za-z0-9._-]", w->name);
	if (!w->cgroup)
		perr(c, n, "workload '%s': 'cgroup' is required", name);
	else if (strstr(w->cgroup, "..") || strchr(w->cgroup, ' ') ||
		 (w->cgroup[0] == '/' && strncmp(w->cgroup, "/sys/fs/cgroup/", 15)))
		perr(c, n, "workload '%s': cgroup '%s' must be a path under /sys/fs/cgroup "
		     "(absolute, or relative to it), without '..' or spaces", name, w->cgroup);
	check_order(c, n, name, &w->t1, "t1", &w->t2, "t2");
	check_order(c, n, name, &w->t2, "t2", &w->t3, "t3");
	check_order(c, n, name, &w->t1, "t1", &w->t3, "t3");
	if (w->protection.mode == MX_PROT_STATIC && !w->protection.min.set &&
	    !w->protection.low.set)
		perr(c, n, "workload '%s': protection mode static needs 'min' or 'low'", name);
	if (w->metric.source != MX_METRIC_NONE && !w->metric.name)
		perr(c, n, "workload '%s': metric needs a 'name'", name);
	if (w->shedding.enabled && !w->shedding.grace_period_ms)
		perr(c, n, "workload '%s': shedding.grace_period must be above zero", name);
}

static void parse_workloads(struct pctx *c, yaml_node_t *seq, struct mx_policy *p)
{
	yaml_node_item_t *it;
	int n, i, j;

	if (seq->type != YAML_SEQUENCE_NODE) {
		perr(c, seq, "workloads: expected a list of workloads");
		return;
	}
	n = seq->data.sequence.items.top - seq->data.sequence.items.start;
	p->workloads = calloc(n ? n : 1, sizeof(*p->workloads));
	for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(c->doc, *it);
		struct mx_workload_policy *w = &p->workloads[p->nr_workloads++];

		w->line = item->start_mark.line + 1;
		w->protection.probe_step = 2;
		w->protection.refault_target = 0.5;
		w->protection.psi_target = 1;
		w->metric.higher_is_better = true;
		w->metric.max_regression = 0.01;
		w->shedding.grace_period_ms = 10000;
		w->on_kill.cleanup = true;
		w->on_kill.notify = true;
		walk_map(c, item, "workload", workload_keys, ARRAY_SIZE(workload_keys),
			 workload_key, w);
		if (item->type == YAML_MAPPING_NODE)
			validate_workload(c, item, w);
	}
	for (i = 0; i < p->nr_workloads; i++)
		for (j = 0; j < i; j++)
			if (p->workloads[i].name && p->workloads[j].name &&
			    !strcmp(p->workloads[i].name, p->workloads[j].name)) {
				yaml_node_t *item = yaml_document_get_node(c->doc,
					seq->data.sequence.items.start[i]);

				perr(c, item, "workload '%s' is declared twice (first on line %d)",
				     p->workloads[i].name, p->workloads[j].line);
			}
}

/* ---- scheduler ---- */

static const char *const hook_keys[] = { "command", "socket" };

static void hook_key(struct pctx *c, int key, yaml_node_t *v, void *arg)
{
	struct mx_policy *p = arg;

	if (key == 0)
		set_str(c, v, "scheduler.hook.command", &p->scheduler.hook_command);
	else
		set_str(c, v, "scheduler.hook.socket", &p->scheduler.hook_socket);
}

static const char *const scheduler_keys[] = { "hook", "drain_timeout" };

static void scheduler_key(struct pctx *c, int key, yaml_node_t *v, void *arg)
{
	struct mx_policy *p = arg;

	if (key == 0) {
		walk_map(c, v, "scheduler.hook", hook_keys, ARRAY_SIZE(hook_keys), hook_key, p);
		if (p->scheduler.hook_command && p->scheduler.hook_socket)
			perr(c, v, "scheduler.hook: give either 'command' or 'socket', not both");
		if (p->scheduler.hook_socket && p->scheduler.hook_socket[0] != '/')
			perr(c, v, "scheduler.hook.socket: must be an absolute path");
	} else {
		get_duration(c, v, "scheduler.drain_timeout", &p->scheduler.drain_timeout_ms);
	}
}

/* ---- agent ---- */

static const char *const agent_keys[] = {
	"socket", "control_socket", "metrics_listen", "event_log", "state_file",
	"pressure_dir", "cgroup_root", "interval", "dry_run",
};

static void agent_key(struct pctx *c, int key, yaml_node_t *v, void *arg)
{
	struct mx_policy *p = arg;
	char **strs[] = { &p->agent.socket, &p->agent.control_socket, &p->agent.metrics_listen,
			  &p->agent.event_log, &p->agent.state_file, &p->agent.pressure_dir,
			  &p->agent.cgroup_root };
	char what[64];

	snprintf(what, sizeof(what), "agent.%s", agent_keys[key]);
	if (key < (int)ARRAY_SIZE(strs)) {
		set_str(c, v, what, strs[key]);
		if (key != 2 && *strs[key] && (*strs[key])[0] != '/')
			perr(c, v, "%s: must be an absolute path", what);
		if (key == 2 && *strs[key] && !strchr(*strs[key], ':'))
			perr(c, v, "%s: expected host:port (e.g. 127.0.0.1:9317)", what);
	} else if (key == 7) {
		get_duration(c, v, what, &p->agent.interval_ms);
		if (p->agent.interval_ms && p->agent.interval_ms < 100)
			perr(c, v, "%s: at least 100ms", what);
	} else {
		get_bool(c, v, what, &p->agent.dry_run);
	}
}

/* ---- top level ---- */

static const char *const top_keys[] = { "host", "workloads", "scheduler", "agent" };

static void top_key(struct pctx *c, int key, yaml_node_t *v, void *arg)
{
	struct mx_policy *p = arg;

	switch (key) {
	case 0: walk_map(c, v, "host", host_keys, ARRAY_SIZE(host_keys), host_key, p); break;
	case 1: parse_workloads(c, v, p); break;
	case 2: walk_map(c, v, "scheduler", scheduler_keys, ARRAY_SIZE(scheduler_keys),
			 scheduler_key, p); break;
	case 3: walk_map(c, v, "agent", agent_keys, ARRAY_SIZE(agent_keys), agent_key, p); break;
	}
}

static char *dup_default(char *s, const char *def)
{
	return s ? s : strdup(def);
}

static void set_defaults(struct mx_policy *p)
{
	p->agent.socket = dup_default(p->agent.socket, "/run/memcg_ext/agent.sock");
	p->agent.control_socket = dup_default(p->agent.control_socket, "/run/memcg_ext/ctl.sock");
	p->agent.event_log = dup_default(p->agent.event_log, "/run/memcg_ext/events.jsonl");
	p->agent.state_file = dup_default(p->agent.state_file, "/run/memcg_ext/state.json");
	p->agent.pressure_dir = dup_default(p->agent.pressure_dir, "/run/memcg_ext/pressure");
	p->agent.cgroup_root = dup_default(p->agent.cgroup_root, "/sys/fs/cgroup");
	if (!p->agent.interval_ms)
		p->agent.interval_ms = 2000;
	if (!p->scheduler.drain_timeout_ms)
		p->scheduler.drain_timeout_ms = 30000;
	if (!p->host.limits_share)
		p->host.limits_share = 100;
}

int mx_policy_load(const char *path, struct mx_policy **out, struct mx_policy_errors *errs)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct mx_policy *p;
	yaml_node_t *root;
	struct pctx c = { .file = path, .doc = &doc, .errs = errs };
	FILE *f;

	memset(errs, 0, sizeof(*errs));
	*out = NULL;
	f = fopen(path, "r");
	if (!f) {
		if (asprintf(&errs->msg[0], "%s: cannot open: %s", path, strerror(errno)) >= 0)
			errs->count = 1;
		return -1;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		if (asprintf(&errs->msg[0], "%s:%zu: YAML syntax error: %s%s%s", path,
			     (parser.problem_mark.line ? parser.problem_mark.line :
			      parser.context_mark.line) + 1,
			     parser.problem ? parser.problem : "unknown",
			     parser.context ? " " : "", parser.context ? parser.context : "") >= 0)
			errs->count = 1;
		yaml_parser_delete(&parser);
		fclose(f);
		return -1;
	}
	p = calloc(1, sizeof(*p));
	p->file = strdup(path);
	root = yaml_document_get_root_node(&doc);
	if (!root)
		perr(&c, NULL, "the file is empty");
	else
		walk_map(&c, root, "the top level", top_keys, ARRAY_SIZE(top_keys), top_key, p);
	if (root && !p->host.utilization_ceiling.set && root->type == YAML_MAPPING_NODE)
		perr(&c, root, "host.utilization_ceiling is required");
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	if (errs->count) {
		mx_policy_free(p);
		return -1;
	}
	set_defaults(p);
	*out = p;
	return 0;
}

void mx_policy_free(struct mx_policy *p)
{
	int i, j;

	if (!p)
		return;
	for (i = 0; i < p->nr_workloads; i++) {
		struct mx_workload_policy *w = &p->workloads[i];

		free(w->name);
		free(w->cgroup);
		for (j = 0; j < w->nr_thread_rules; j++)
			free(w->thread_rules[j].match);
		free(w->thread_rules);
		free(w->metric.path);
		free(w->metric.name);
	}
	free(p->workloads);
	free(p->scheduler.hook_command);
	free(p->scheduler.hook_socket);
	free(p->agent.socket);
	free(p->agent.control_socket);
	free(p->agent.metrics_listen);
	free(p->agent.event_log);
	free(p->agent.state_file);
	free(p->agent.pressure_dir);
	free(p->agent.cgroup_root);
	free(p->file);
	free(p);
}

void mx_policy_errors_free(struct mx_policy_errors *errs)
{
	int i;

	for (i = 0; i < errs->count; i++)
		free(errs->msg[i]);
	errs->count = 0;
}

const struct mx_workload_policy *mx_policy_find(const struct mx_policy *p, const char *name)
{
	int i;

	for (i = 0; i < p->nr_workloads; i++)
		if (!strcmp(p->workloads[i].name, name))
			return &p->workloads[i];
	return NULL;
}
