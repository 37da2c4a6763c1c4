// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's decisions: per-workload thresholds (T1 reclaim, T2 shed,
 * T3 kill), dynamic protection and trimming (F8), the host utilization
 * ceiling (F15), and the escalation from shedding to a kill (F11, F13).
 * Every action goes through act_*(), which logs it as a decision and, in
 * dry-run mode, stops there.
 */
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"

#define MB (1ULL << 20)
#define PAGE_BYTES 4096ULL

static const char *const level_names[] = { "none", "low", "medium", "high", "critical" };
static const char *const esc_names[] = { "none", "shedding", "draining", "killing", "done" };

const char *mx_level_name(enum mx_level l)
{
	return level_names[l];
}

const char *mx_escalation_name(enum mx_escalation e)
{
	return esc_names[e];
}

static const char *fmt_b(uint64_t b, char *buf)
{
	mx_format_bytes(b, buf, 24);
	return buf;
}

void mx_decide(struct mx_agent *a, struct mx_workload *w, const char *action,
	       json_object *fields, const char *fmt, ...)
{
	json_object *ev = fields ? fields : json_object_new_object();
	struct mx_decision *d;
	char reason[240];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	json_object_object_add(ev, "time", json_object_new_double(mx_wall_time()));
	json_object_object_add(ev, "action", json_object_new_string(action));
	if (w) {
		json_object_object_add(ev, "workload", json_object_new_string(w->name));
		json_object_object_add(ev, "cgroup", json_object_new_string(w->cgpath));
		json_object_object_add(ev, "usage", json_object_new_uint64(w->st.current));
		/* Explain shows distinct decisions: a repeated action is coalesced. */
		d = w->nr_dec ? &w->dec[(w->nr_dec - 1) % MX_NR_DECISIONS] : NULL;
		if (d && !strcmp(d->action, action) && mx_wall_time() - d->time < 30) {
			d->repeat++;
		} else {
			d = &w->dec[w->nr_dec++ % MX_NR_DECISIONS];
			d->repeat = 0;
		}
		d->time = mx_wall_time();
		snprintf(d->action, sizeof(d->action), "%s", action);
		snprintf(d->reason, sizeof(d->reason), "%s%s", a->dry_run ? "[dry-run] " : "",
			 reason);
	}
	json_object_object_add(ev, "reason", json_object_new_string(reason));
	json_object_object_add(ev, "dry_run", json_object_new_boolean(a->dry_run));
	mx_event_log(a, ev);
	json_object_put(ev);
	printf("%s%s %s: %s\n", a->dry_run ? "[dry-run] " : "", action,
	       w ? w->name : "host", reason);
	fflush(stdout);
}

/* ---- actions: the only places that change anything ---- */

static uint64_t act_reclaim(struct mx_agent *a, struct mx_workload *w, uint64_t bytes,
			    const char *action, const char *why)
{
	json_object *f = json_object_new_object();
	struct mx_cg_state after;
	uint64_t freed = 0;
	char b1[24];
	int ret = 0;

	bytes &= ~(PAGE_BYTES - 1);
	if (!bytes) {
		json_object_put(f);
		return 0;
	}
	json_object_object_add(f, "bytes", json_object_new_uint64(bytes));
	if (!a->dry_run) {
		ret = a->be.ops->reclaim(&a->be, w->cgpath, bytes);
		if (!a->be.ops->read_state(&a->be, w->cgpath, &after) &&
		    after.current < w->st.current) {
			freed = w->st.current - after.current;
			w->st.current = after.current;
		}
		w->reclaimed_bytes += freed;
		w->reclaim_calls++;
		a->host_reclaimed_bytes += freed;
		json_object_object_add(f, "freed", json_object_new_uint64(freed));
		if (ret && ret != -EAGAIN)
			json_object_object_add(f, "error", json_object_new_string(strerror(-ret)));
	}
	mx_decide(a, w, action, f, "reclaim %s: %s", fmt_b(bytes, b1), why);
	return freed;
}

static void act_set_limit(struct mx_agent *a, struct mx_workload *w, enum mx_limit l,
			  uint64_t bytes, const char *why)
{
	json_object *f = json_object_new_object();
	char b1[24];
	int ret;

	json_object_object_add(f, "file", json_object_new_string(mx_limit_file(l)));
	json_object_object_add(f, "bytes", json_object_new_uint64(bytes));
	if (!a->dry_run) {
		ret = a->be.ops->set_limit(&a->be, w->cgpath, l, bytes);
		if (ret)
			json_object_object_add(f, "error", json_object_new_string(strerror(-ret)));
	}
	mx_decide(a, w, "set", f, "%s=%s: %s", mx_limit_file(l), fmt_b(bytes, b1), why);
}

static void act_kill(struct mx_agent *a, struct mx_workload *w, const char *why)
{
	json_object *f = json_object_new_object();
	int ret;

	if (!a->dry_run) {
		ret = a->be.ops->kill(&a->be, w->cgpath);
		if (ret)
			json_object_object_add(f, "error", json_object_new_string(strerror(-ret)));
	}
	w->kills++;
	mx_decide(a, w, "kill", f, "cgroup.kill: %s", why);
}

/* ---- workload instances ---- */

struct mx_workload *mx_workload_find(struct mx_agent *a, const char *name)
{
	struct mx_workload *w;

	for (w = a->workloads; w; w = w->next)
		if (!strcmp(w->name, name))
			return w;
	return NULL;
}

struct mx_workload *mx_workload_by_cgroup(struct mx_agent *a, const char *cgpath)
{
	struct mx_workload *w, *best = NULL;
	size_t best_len = 0;

	/* The deepest workload cgroup that contains cgpath. */
	for (w = a->workloads; w; w = w->next) {
		size_t n = strlen(w->cgpath);

		if (!strncmp(cgpath, w->cgpath, n) && (cgpath[n] == '\0' || cgpath[n] == '/') &&
		    n > best_len) {
			best = w;
			best_len = n;
		}
	}
	return best;
}

static void watch_workload(struct mx_agent *a, struct mx_workload *w)
{
	int fd;

	/* 10% of a second stalled in a 1 s window wakes us between ticks. */
	fd = a->be.ops->psi_trigger(&a->be, w->cgpath, 100000, 1000000);
	if (fd >= 0) {
		w->psi_src = (struct mx_src){ MX_SRC_WL_PSI, fd, w };
		mx_watch(a, &w->psi_src, EPOLLPRI);
	}
	fd = a->be.ops->events_fd(&a->be, w->cgpath, "memory.events");
	if (fd >= 0) {
		w->events_src = (struct mx_src){ MX_SRC_WL_EVENTS, fd, w };
		mx_watch(a, &w->events_src, EPOLLPRI);
	}
	fd = a->be.ops->events_fd(&a->be, w->cgpath, "cgroup.events");
	if (fd >= 0) {
		w->cgevents_src = (struct mx_src){ MX_SRC_WL_CGEVENTS, fd, w };
		mx_watch(a, &w->cgevents_src, EPOLLPRI);
	}
}

void mx_workload_free(struct mx_agent *a, struct mx_workload *w)
{
	mx_unwatch(a, &w->psi_src);
	mx_unwatch(a, &w->events_src);
	mx_unwatch(a, &w->cgevents_src);
	free(w);
}

/* Restart safety: take over what a previous run (or an operator) set. */
static void adopt(struct mx_agent *a, struct mx_workload *w)
{
	json_object *ws = NULL, *o = NULL, *v;
	char b1[24], b2[24];

	if (a->saved_state && json_object_object_get_ex(a->saved_state, "workloads", &ws))
		json_object_object_get_ex(ws, w->cgpath, &o);
	if (o && json_object_object_get_ex(o, "estimate", &v))
		w->estimate = json_object_get_uint64(v);
	if (o && json_object_object_get_ex(o, "low_written", &v))
		w->low_written = json_object_get_uint64(v);
	if (w->st.low > w->estimate && w->st.low != MX_UNLIMITED)
		w->estimate = w->st.low;
	if (w->estimate) {
		w->estimate_adopted = true;
		w->ws_confirmed = true;
		mx_decide(a, w, "adopt", NULL,
			  "kept working-set estimate %s (memory.low=%s)%s; protection is not "
			  "lowered before a fresh estimate", fmt_b(w->estimate, b1),
			  fmt_b(w->st.low, b2), o ? " from the state file" : "");
	}
}

static struct mx_workload *workload_new(struct mx_agent *a, const struct mx_workload_policy *p,
					const char *name, const char *cgpath)
{
	struct mx_workload *w = calloc(1, sizeof(*w));

	snprintf(w->name, sizeof(w->name), "%s", name);
	snprintf(w->policy_name, sizeof(w->policy_name), "%s", p->name);
	snprintf(w->cgpath, sizeof(w->cgpath), "%s", cgpath);
	w->pol = p;
	w->psi_src.fd = w->events_src.fd = w->cgevents_src.fd = -1;
	a->be.ops->read_state(&a->be, cgpath, &w->st);
	w->next = a->workloads;
	a->workloads = w;
	watch_workload(a, w);
	mx_decide(a, w, "track", NULL, "cgroup matches workload '%s' (priority %d%s)",
		  p->name, p->priority, p->protected ? ", protected" : "");
	adopt(a, w);
	/* F7: memory+swap ceiling, approximated with memory.swap.max. */
	if (p->memsw_max.set && w->st.max != MX_UNLIMITED) {
		uint64_t swap = p->memsw_max.bytes > w->st.max ? p->memsw_max.bytes - w->st.max : 0;

		if (swap != w->st.swap_max)
			act_set_limit(a, w, MX_LIMIT_SWAP_MAX, swap,
				      "memsw_max minus memory.max (F7 emulated)");
	} else if (p->memsw_max.set) {
		uint64_t swap = p->memsw_max.bytes > w->st.current ?
				p->memsw_max.bytes - w->st.current : 0;

		if (swap != w->st.swap_max)
			act_set_limit(a, w, MX_LIMIT_SWAP_MAX, swap,
				      "memsw_max minus usage, no memory.max (F7 emulated)");
	}
	return w;
}

static bool has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

void mx_workloads_rescan(struct mx_agent *a)
{
	struct mx_workload *w, **pp;
	int i;

	for (w = a->workloads; w; w = w->next)
		w->seen = false;
	for (i = 0; i < a->policy->nr_workloads; i++) {
		const struct mx_workload_policy *p = &a->policy->workloads[i];
		const char *rel = p->cgroup;
		char pattern[PATH_MAX], name[128];
		glob_t g;
		size_t j;

		if (!strncmp(rel, "/sys/fs/cgroup/", 15))
			rel += 15;
		snprintf(pattern, sizeof(pattern), "%s/%s", a->policy->agent.cgroup_root, rel);
		if (glob(pattern, GLOB_ONLYDIR | GLOB_NOSORT, NULL, &g))
			continue;
		for (j = 0; j < g.gl_pathc; j++) {
			char *path = g.gl_pathv[j];
			size_t n = strlen(path);

			if (n && path[n - 1] == '/')
				path[n - 1] = '\0';
			w = NULL;
			for (struct mx_workload *x = a->workloads; x; x = x->next)
				if (!strcmp(x->cgpath, path))
					w = x;
			if (w && strcmp(w->policy_name, p->name))
				continue;	/* the first workload that matches wins */
			if (!w) {
				struct stat sb;

				if (stat(path, &sb) || !S_ISDIR(sb.st_mode))
					continue;
				if (has_glob(rel))
					snprintf(name, sizeof(name), "%s:%s", p->name,
						 strrchr(path, '/') + 1);
				else
					snprintf(name, sizeof(name), "%s", p->name);
				w = workload_new(a, p, name, path);
			}
			w->pol = p;
			w->seen = true;
		}
		globfree(&g);
	}
	for (pp = &a->workloads; (w = *pp);) {
		if (w->seen) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		mx_decide(a, w, "untrack", NULL, "%s",
			  access(w->cgpath, F_OK) ? "cgroup is gone" : "no longer in the policy");
		mx_workload_free(a, w);
	}
}

/* ---- reading the machine ---- */

static void host_read(struct mx_agent *a)
{
	char buf[4096], *p;
	uint64_t some_us, full_us;
	double full10 = 0;

	if (mx_read_file("/proc/meminfo", buf, sizeof(buf)) > 0) {
		if ((p = strstr(buf, "MemTotal:")))
			a->mem_total = strtoull(p + 9, NULL, 10) * 1024;
		if ((p = strstr(buf, "MemAvailable:")))
			a->mem_available = strtoull(p + 13, NULL, 10) * 1024;
		if ((p = strstr(buf, "SwapFree:")))
			a->swap_free = strtoull(p + 9, NULL, 10) * 1024;
	}
	a->host_used = a->mem_total > a->mem_available ? a->mem_total - a->mem_available : 0;
	a->host_ceiling = mx_size_resolve(&a->policy->host.utilization_ceiling, a->mem_total);
	if (mx_read_file("/proc/pressure/memory", buf, sizeof(buf)) > 0)
		sscanf(buf, "some avg10=%lf", &a->host_psi_some_avg10);
	(void)some_us; (void)full_us; (void)full10;
}

static void write_pressure_file(struct mx_agent *a, struct mx_workload *w)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], val[32], name[128];
	FILE *f;
	char *c;

	snprintf(name, sizeof(name), "%s", w->name);
	for (c = name; *c; c++)
		if (*c == '/' || *c == ':')
			*c = '_';
	snprintf(path, sizeof(path), "%s/%s", a->policy->agent.pressure_dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(val, sizeof(val), "%.3f\n", w->pressure);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fputs(val, f);
	fclose(f);
	rename(tmp, path);
}

static void workload_update(struct mx_agent *a, struct mx_workload *w)
{
	const struct mx_workload_policy *p = w->pol;
	uint64_t u, ref;
	double psi, r;
	enum mx_level l = MX_LEVEL_NONE;

	uint64_t oom_kills = w->st.ev_oom_kill;
	bool had_state = w->st.exists;

	if (a->be.ops->read_state(&a->be, w->cgpath, &w->st))
		w->st.exists = false;
	/*
	 * F13 with the kernel's OOM killer: a kill the kernel made in this
	 * workload is reported like ours, so the scheduler hears of it.
	 */
	if (had_state && w->st.exists && w->st.ev_oom_kill > oom_kills) {
		char why[96];

		snprintf(why, sizeof(why), "the kernel OOM killer killed %" PRIu64
			 " process(es) in the cgroup", w->st.ev_oom_kill - oom_kills);
		mx_decide(a, w, "oom-kill", NULL, "%s", why);
		if (w->pol->on_kill.notify)
			mx_hook_notify(a, w, "oom_kill", why);
	}
	ref = w->st.max != MX_UNLIMITED && w->st.max ? w->st.max : a->mem_total;
	w->limit_ref = ref;
	w->t1 = mx_size_resolve(&p->t1, ref);
	w->t2 = mx_size_resolve(&p->t2, ref);
	w->t3 = mx_size_resolve(&p->t3, ref);
	u = w->st.current;
	psi = w->st.psi_some_avg10;
	if ((w->t1 && u >= w->t1 * 9 / 10) || psi >= 1)
		l = MX_LEVEL_LOW;
	if ((w->t1 && u >= w->t1) || psi >= 10)
		l = MX_LEVEL_MEDIUM;
	if ((w->t2 && u >= w->t2) || psi >= 30 || w->esc == MX_ESC_SHEDDING)
		l = MX_LEVEL_HIGH;
	if ((w->t3 && u >= w->t3) || w->esc == MX_ESC_DRAINING || w->esc == MX_ESC_KILLING)
		l = MX_LEVEL_CRITICAL;
	w->level = l;
	r = (double)u / (double)(w->t3 ? w->t3 : ref);
	if (psi / 100.0 > r)
		r = psi / 100.0;
	w->pressure = r > 1 ? 1 : r;
	/* The metric from a file, when the policy names one. */
	if (p->metric.source == MX_METRIC_FILE) {
		char buf[64];

		if (mx_read_file(p->metric.path, buf, sizeof(buf)) > 0) {
			w->metric = strtod(buf, NULL);
			w->metric_seen = true;
			w->metric_ms = mx_now_ms();
		}
	}
	write_pressure_file(a, w);
}

/* ---- escalation: shed, then drain, then kill ---- */

static bool shed(struct mx_agent *a, struct mx_workload *w, uint64_t bytes, const char *why)
{
	json_object *f;
	char b1[24];

	if (!w->pol->shedding.enabled || !mx_proto_nr_subscribed(a, w))
		return false;
	w->shed_id = ++a->next_shed_id;
	w->shed_bytes = bytes;
	w->freed_bytes = 0;
	w->shed_usage_at_request = w->st.current;
	w->shed_requests++;
	mx_proto_send_workload(a, w, "SHED id=%" PRIu64 " bytes=%" PRIu64 " deadline_ms=%" PRIu64
			       " level=%s", w->shed_id, bytes, w->pol->shedding.grace_period_ms,
			       mx_level_name(w->level < MX_LEVEL_HIGH ? MX_LEVEL_HIGH : w->level));
	f = json_object_new_object();
	json_object_object_add(f, "id", json_object_new_uint64(w->shed_id));
	json_object_object_add(f, "bytes", json_object_new_uint64(bytes));
	json_object_object_add(f, "deadline_ms",
			       json_object_new_uint64(w->pol->shedding.grace_period_ms));
	mx_decide(a, w, "shed", f, "asked to free %s within %" PRIu64 " ms: %s",
		  fmt_b(bytes, b1), w->pol->shedding.grace_period_ms, why);
	return true;
}

static void start_drain(struct mx_agent *a, struct mx_workload *w, const char *why)
{
	uint64_t drain = a->policy->scheduler.drain_timeout_ms;
	bool hook = a->policy->scheduler.hook_command || a->policy->scheduler.hook_socket;
	int nclients = mx_proto_nr_subscribed(a, w);

	if (!hook && !nclients)
		drain = 0;
	w->esc = MX_ESC_DRAINING;
	w->esc_deadline_ms = mx_now_ms() + drain;
	snprintf(w->esc_reason, sizeof(w->esc_reason), "%s", why);
	mx_proto_send_workload(a, w, "KILL_NOTICE deadline_ms=%" PRIu64, drain);
	mx_decide(a, w, "drain", NULL, "kill in %" PRIu64 " ms unless it empties first: %s",
		  drain, why);
	if (w->pol->on_kill.notify && hook) {
		mx_hook_notify(a, w, "pre_kill", why);
		w->pre_kill_notified = true;
	}
}

/* Others can free memory: some unprotected workload still has some. */
static bool others_can_free(struct mx_agent *a, struct mx_workload *self)
{
	struct mx_workload *w;

	for (w = a->workloads; w; w = w->next)
		if (w != self && !w->pol->protected && w->st.populated &&
		    w->esc < MX_ESC_KILLING && w->st.current > MB)
			return true;
	return false;
}

static void escalate(struct mx_agent *a, struct mx_workload *w, uint64_t shed_bytes,
		     const char *why)
{
	uint64_t now = mx_now_ms();

	if (w->esc != MX_ESC_NONE)
		return;
	if (w->pol->protected && others_can_free(a, w)) {
		if (strcmp(w->last_log_action, "spare") || now - w->last_log_ms > 10000) {
			mx_decide(a, w, "spare", NULL, "protected, not a victim while others can "
				  "free memory: %s", why);
			snprintf(w->last_log_action, sizeof(w->last_log_action), "spare");
			w->last_log_ms = now;
		}
		return;
	}
	/* Right after a (re)start nothing is measured yet: never kill then. */
	if (now - a->start_ms < 2 * a->policy->agent.interval_ms)
		return;
	snprintf(w->esc_reason, sizeof(w->esc_reason), "%s", why);
	if (shed(a, w, shed_bytes, why)) {
		w->esc = MX_ESC_SHEDDING;
		w->esc_deadline_ms = now + w->pol->shedding.grace_period_ms;
		return;
	}
	start_drain(a, w, why);
}

/* Whether the reason for the escalation still holds. */
static bool escalation_needed(struct mx_agent *a, struct mx_workload *w)
{
	if (!strncmp(w->esc_reason, "host", 4))
		return a->host_ceiling && a->host_used > a->host_ceiling;
	return w->t3 && w->st.current >= w->t3;
}

static void escalation_step(struct mx_agent *a, struct mx_workload *w)
{
	uint64_t now = mx_now_ms();
	char why[400], b1[24], b2[24];

	switch (w->esc) {
	case MX_ESC_NONE:
		break;
	case MX_ESC_SHEDDING:
		if (!escalation_needed(a, w) &&
		    (now >= w->esc_deadline_ms || w->freed_bytes >= w->shed_bytes)) {
			mx_decide(a, w, "recovered", NULL, "no longer needed (client freed %s of %s)",
				  fmt_b(w->freed_bytes, b1), fmt_b(w->shed_bytes, b2));
			w->esc = MX_ESC_NONE;
			break;
		}
		if (now < w->esc_deadline_ms)
			break;
		snprintf(why, sizeof(why), "grace period over, freed %s of %s asked: %s",
			 fmt_b(w->freed_bytes, b1), fmt_b(w->shed_bytes, b2), w->esc_reason);
		start_drain(a, w, why);
		break;
	case MX_ESC_DRAINING:
		if (!w->st.populated && !a->dry_run) {
			w->esc = MX_ESC_KILLING;
			mx_decide(a, w, "drained", NULL, "emptied during the drain time, no kill");
			break;
		}
		if (now < w->esc_deadline_ms)
			break;
		act_kill(a, w, w->esc_reason);
		w->esc = MX_ESC_KILLING;
		w->esc_deadline_ms = now + 10000;
		if (a->dry_run) {
			/* Nothing was killed; start over later if still needed. */
			w->esc = MX_ESC_NONE;
		}
		break;
	case MX_ESC_KILLING:
		if (w->st.populated) {
			if (now > w->esc_deadline_ms) {
				act_kill(a, w, "still populated 10 s after cgroup.kill, again");
				w->esc_deadline_ms = now + 10000;
			}
			break;
		}
		if (w->pol->on_kill.cleanup) {
			int ret = a->be.ops->remove(&a->be, w->cgpath);

			mx_decide(a, w, "cleanup", NULL, "rmdir %s: %s", w->cgpath,
				  ret ? strerror(-ret) : "removed");
		}
		mx_decide(a, w, "killed", NULL, "workload killed and reaped: %s", w->esc_reason);
		/* Let the host show what the kill freed before choosing another victim. */
		if (!strncmp(w->esc_reason, "host", 4) || strstr(w->esc_reason, ": host"))
			a->host_over_since_ms = now;
		if (w->pol->on_kill.notify)
			mx_hook_notify(a, w, "killed", w->esc_reason);
		w->esc = MX_ESC_DONE;
		break;
	case MX_ESC_DONE:
		if (w->st.populated) {
			w->esc = MX_ESC_NONE;
			mx_decide(a, w, "restarted", NULL, "populated again after the kill");
		}
		break;
	}
}

/*
 * What reclaim can take at all: file pages, and anon pages only as far as
 * there is swap for them (memory.swap.max, free swap). Asking for more
 * only burns CPU in the kernel's reclaim retries.
 */
static uint64_t reclaimable(struct mx_agent *a, struct mx_workload *w)
{
	uint64_t swap_room = a->swap_free;

	if (w->st.swap_max != MX_UNLIMITED)
		swap_room = w->st.swap_max > w->st.swap_current ?
			    w->st.swap_max - w->st.swap_current : 0;
	if (swap_room > a->swap_free)
		swap_room = a->swap_free;
	return w->st.file + (w->st.anon < swap_room ? w->st.anon : swap_room);
}

/* ---- per-workload thresholds (F6 tiers, stock emulation) ---- */

static void thresholds(struct mx_agent *a, struct mx_workload *w)
{
	uint64_t u = w->st.current, target, amount;
	char why[200], b1[24], b2[24];

	if (w->esc >= MX_ESC_DRAINING || !w->st.populated)
		return;
	if (w->t3 && u >= w->t3) {
		snprintf(why, sizeof(why), "usage %s at or above t3 %s", fmt_b(u, b1),
			 fmt_b(w->t3, b2));
		escalate(a, w, u - (w->t1 ? w->t1 : w->t3 * 8 / 10), why);
	} else if (w->t2 && u >= w->t2 && w->esc == MX_ESC_NONE &&
		   (!w->shed_id || w->freed_bytes >= w->shed_bytes ||
		    mx_now_ms() - w->last_log_ms > w->pol->shedding.grace_period_ms)) {
		snprintf(why, sizeof(why), "usage %s at or above t2 %s", fmt_b(u, b1),
			 fmt_b(w->t2, b2));
		if (shed(a, w, u - (w->t1 ? w->t1 * 95 / 100 : w->t2 * 8 / 10), why))
			w->last_log_ms = mx_now_ms();
	}
	if (w->t1 && u > w->t1) {
		/* T1: background reclaim back under the watermark, in bounded steps. */
		target = w->t1 - w->t1 / 32;
		amount = u - target;
		if (amount > 32 * MB)
			amount = 32 * MB;
		if (amount > reclaimable(a, w))
			amount = reclaimable(a, w);
		if (amount < 256 * 1024)
			return;
		snprintf(why, sizeof(why), "usage %s above t1 %s", fmt_b(u, b1), fmt_b(w->t1, b2));
		act_reclaim(a, w, amount, "reclaim", why);
	}
}

/* ---- F8: dynamic protection and trimming ---- */

static uint64_t protection_floor(struct mx_workload *w)
{
	uint64_t lo = mx_size_resolve(&w->pol->protection.low, w->limit_ref);
	uint64_t mi = mx_size_resolve(&w->pol->protection.min, w->limit_ref);

	return lo > mi ? lo : mi;
}

static void apply_static_protection(struct mx_agent *a, struct mx_workload *w)
{
	uint64_t lo = mx_size_resolve(&w->pol->protection.low, w->limit_ref);
	uint64_t mi = mx_size_resolve(&w->pol->protection.min, w->limit_ref);

	if (w->pol->protection.mode == MX_PROT_OFF)
		return;
	if (w->pol->protection.min.set && w->st.min != mi && w->low_written != mi + 1)
		act_set_limit(a, w, MX_LIMIT_MIN, mi, "static protection.min");
	if (w->pol->protection.mode == MX_PROT_STATIC && w->pol->protection.low.set &&
	    w->st.low != lo && w->low_written != lo) {
		act_set_limit(a, w, MX_LIMIT_LOW, lo, "static protection.low");
		w->low_written = lo;
	}
}

/*
 * After a restart the adopted estimate stands until this process has
 * measured the working set itself: two hits and five probe cycles.
 */
static bool fresh_estimate(const struct mx_workload *w)
{
	return w->fresh_hits >= 2 && w->fresh_cycles >= 5;
}

/*
 * The trim probe. Like senpai it reclaims a little at a time and backs off
 * when the workload starts to stall, but it listens to more than PSI:
 * refaults (the kernel telling us that what we took was still in use)
 * are seen before a stall builds up, and the workload's own metric stops
 * the probe before the regression budget is spent. What the probe learns
 * becomes memory.low, so the hot set stays protected from the host-level
 * trimming of other workloads and from global reclaim.
 */
static void trim_probe(struct mx_agent *a, struct mx_workload *w)
{
	const struct mx_workload_policy *p = w->pol;
	uint64_t now = mx_now_ms(), u = w->st.current;
	uint64_t refault = w->st.refault_anon + w->st.refault_file, rbytes, step, floor, low;
	double dt, refault_pct, psi_pct, regression = 0, metric_limit = 1e9;
	bool hot, hot_ws, perturbed;
	char b1[24], b2[24], why[200];

	if (p->protection.mode != MX_PROT_DYNAMIC || w->esc != MX_ESC_NONE || !w->st.populated)
		return;
	if (w->probe_have_prev && now - w->probe_last_ms < a->policy->agent.interval_ms * 9 / 10)
		return;
	if (!w->probe_have_prev || refault < w->probe_prev_refault) {
		w->probe_prev_refault = refault;
		w->probe_prev_psi_us = w->st.psi_some_us;
		w->probe_prev_usage = u;
		w->probe_last_ms = now;
		w->probe_have_prev = true;
		return;
	}
	dt = (now - w->probe_last_ms) / 1000.0;
	rbytes = (refault - w->probe_prev_refault) * PAGE_BYTES;
	refault_pct = u ? 100.0 * rbytes / u / dt : 0;
	psi_pct = (w->st.psi_some_us - w->probe_prev_psi_us) / (dt * 1e6) * 100.0;
	/*
	 * The metric: a short average against a baseline learnt only from
	 * cycles our own reclaim did not touch, so that a back-off lets the
	 * baseline catch up with reality instead of pausing for ever. Its
	 * noise widens the margin: a 1% budget cannot be read from one sample
	 * of a metric that jumps by 10%.
	 */
	if (w->metric_seen && p->metric.source != MX_METRIC_NONE) {
		double m = w->metric;

		if (!w->baseline_seen) {
			w->metric_baseline = w->metric_avg = m;
			w->metric_noise = 0;
			w->baseline_seen = true;
		} else {
			w->metric_avg = 0.7 * w->metric_avg + 0.3 * m;
			if (!w->probed_last_cycle && w->metric_baseline != 0) {
				w->metric_noise = 0.8 * w->metric_noise +
					0.2 * fabs(m - w->metric_avg) / fabs(w->metric_baseline);
				w->metric_baseline = 0.8 * w->metric_baseline + 0.2 * m;
			}
		}
		if (w->metric_baseline != 0) {
			regression = (w->metric_baseline - w->metric_avg) / fabs(w->metric_baseline);
			if (!p->metric.higher_is_better)
				regression = -regression;
		}
		metric_limit = p->metric.max_regression / 2 + w->metric_noise;
	}
	w->fresh_cycles++;
	/*
	 * Only what follows our own probe is blamed on it: refaults, stalls
	 * or a metric drop in a cycle without a probe come from elsewhere (the
	 * workload growing, the host busy). Then the probe only waits; the
	 * estimate and the back-off stay as they are.
	 */
	perturbed = w->probed_last_cycle;
	w->probed_last_cycle = false;
	hot_ws = refault_pct > p->protection.refault_target || psi_pct > p->protection.psi_target;
	hot = hot_ws || regression > metric_limit;
	if (hot && !perturbed) {
		w->quiet_streak = 0;
		goto out;
	}
	if (hot) {
		/*
		 * Refaults or stalls: what came back was in use, the working
		 * set is what is resident now. The metric alone only pauses.
		 */
		w->quiet_streak = 0;
		if (hot_ws) {
			w->estimate = u + rbytes;
			w->ws_confirmed = true;
			w->fresh_hits++;
		}
		w->backoff_cycles = w->backoff_cycles ? w->backoff_cycles * 2 : 2;
		if (w->backoff_cycles > 32)
			w->backoff_cycles = 32;
		w->backoff_until_ms = now + w->backoff_cycles * a->policy->agent.interval_ms;
		snprintf(why, sizeof(why), "refaults %.2f%%/s (target %.2f), stall %.2f%% "
			 "(target %.2f), metric %+.2f%% (limit -%.2f%%): working set ~%s, pause %d "
			 "cycles", refault_pct, p->protection.refault_target, psi_pct,
			 p->protection.psi_target, -regression * 100, metric_limit * 100,
			 fmt_b(w->estimate, b1), w->backoff_cycles);
		mx_decide(a, w, "backoff", NULL, "%s", why);
	} else {
		if (now >= w->backoff_until_ms) {
			floor = protection_floor(w);
			step = (uint64_t)(u * p->protection.probe_step / 100.0);
			/*
			 * Each quiet probe earns a bigger next one (1x, 1x, 2x,
			 * 2x, 3x ... 4x): a large cold set goes quickly, and the
			 * first refaults reset the pace.
			 */
			step *= 1 + (w->quiet_streak / 2 < 3 ? w->quiet_streak / 2 : 3);
			w->quiet_streak++;
			if (step < MB / 2)
				step = MB / 2;
			if (u < floor + step)
				step = u > floor ? u - floor : 0;
			if (step >= 64 * 1024) {
				snprintf(why, sizeof(why), "quiet (refaults %.2f%%/s, stall %.2f%%): "
					 "probe below %s", refault_pct, psi_pct, fmt_b(u, b1));
				act_reclaim(a, w, step, "probe", why);
				u = w->st.current;
				w->probed_last_cycle = true;
			}
			if (!w->estimate || u < w->estimate || !w->estimate_adopted ||
			    fresh_estimate(w))
				w->estimate = u;
			if (w->backoff_cycles > 0)
				w->backoff_cycles--;
		}
	}
	/*
	 * memory.low follows the estimate once a probe has found the working
	 * set (before that the estimate is only "what is resident"); after a
	 * restart it is never lowered before a fresh estimate exists.
	 */
	if (!w->ws_confirmed)
		goto out;
	low = w->estimate;
	if (low < protection_floor(w))
		low = protection_floor(w);
	if (w->estimate_adopted && !fresh_estimate(w) && low < w->st.low)
		low = w->st.low;
	if (low != w->st.low && (low > w->st.low + w->st.low / 50 + 256 * 1024 ||
				 low + low / 50 + 256 * 1024 < w->st.low)) {
		snprintf(why, sizeof(why), "working-set estimate %s (was %s)",
			 fmt_b(w->estimate, b1), fmt_b(w->st.low, b2));
		act_set_limit(a, w, MX_LIMIT_LOW, low, why);
		w->low_written = low;
	}
out:
	w->probe_prev_refault = w->st.refault_anon + w->st.refault_file;
	w->probe_prev_psi_us = w->st.psi_some_us;
	w->probe_prev_usage = w->st.current;
	w->probe_last_ms = now;
}

/* ---- F15: the host ceiling ---- */

static int by_priority(const void *x, const void *y)
{
	const struct mx_workload *a = *(struct mx_workload *const *)x;
	const struct mx_workload *b = *(struct mx_workload *const *)y;

	if (a->pol->protected != b->pol->protected)
		return a->pol->protected ? 1 : -1;
	if (a->pol->priority != b->pol->priority)
		return a->pol->priority < b->pol->priority ? -1 : 1;
	return a->st.current > b->st.current ? -1 : a->st.current < b->st.current;
}

static void host_control(struct mx_agent *a)
{
	struct mx_workload *w, *sorted[256];
	uint64_t now = mx_now_ms(), excess, floor, room, amount;
	int n = 0, i;
	bool dying = false;
	char why[200], b1[24], b2[24];

	if (!a->host_ceiling || a->host_used <= a->host_ceiling) {
		a->host_over_since_ms = 0;
		return;
	}
	if (!a->host_over_since_ms)
		a->host_over_since_ms = now;
	excess = a->host_used - a->host_ceiling + a->host_ceiling / 50;
	for (w = a->workloads; w && n < 256; w = w->next) {
		sorted[n++] = w;
		if (w->esc >= MX_ESC_DRAINING && w->esc < MX_ESC_DONE)
			dying = true;
	}
	qsort(sorted, n, sizeof(*sorted), by_priority);
	snprintf(why, sizeof(why), "host %s above ceiling %s", fmt_b(a->host_used, b1),
		 fmt_b(a->host_ceiling, b2));
	/* 1. Trim, lowest priority first, never below a workload's protection. */
	for (i = 0; i < n && excess > 0; i++) {
		w = sorted[i];
		if (w->esc >= MX_ESC_DRAINING || !w->st.populated)
			continue;
		floor = protection_floor(w);
		if (w->pol->protection.mode == MX_PROT_DYNAMIC && w->ws_confirmed &&
		    w->estimate > floor)
			floor = w->estimate;
		room = w->st.current > floor ? w->st.current - floor : 0;
		if (room > reclaimable(a, w))
			room = reclaimable(a, w);
		amount = room < excess ? room : excess;
		if (amount > 64 * MB)
			amount = 64 * MB;
		if (amount < MB)
			continue;
		amount = act_reclaim(a, w, amount, "host-trim", why);
		excess = amount < excess ? excess - amount : 0;
	}
	/* 2. Still over after two intervals: shed, then kill, lowest priority first. */
	if (dying || now - a->host_over_since_ms < 2 * a->policy->agent.interval_ms)
		return;
	for (i = 0; i < n; i++) {
		w = sorted[i];
		if (w->esc == MX_ESC_SHEDDING)
			return;	/* one at a time: wait for its grace period */
		if (w->esc != MX_ESC_NONE || !w->st.populated || w->st.current < MB)
			continue;
		escalate(a, w, a->host_used - a->host_ceiling + a->host_ceiling / 50, why);
		if (w->esc != MX_ESC_NONE)
			return;
	}
}

/*
 * F15's second half: the workloads' limits (T3, else memory.max) should
 * add up to no more than limits_share of RAM. The agent changes no limit
 * for it; it says so once, and again when the sum changes.
 */
static void limits_check(struct mx_agent *a)
{
	struct mx_workload *w;
	uint64_t sum = 0;
	char b1[24], b2[24];

	for (w = a->workloads; w; w = w->next)
		sum += w->t3 ? w->t3 : w->st.max != MX_UNLIMITED ? w->st.max : 0;
	a->limits_share_bytes = (uint64_t)(a->mem_total * a->policy->host.limits_share / 100.0);
	if (sum != a->limits_sum)
		a->limits_warned = false;
	a->limits_sum = sum;
	if (sum > a->limits_share_bytes && !a->limits_warned) {
		mx_decide(a, NULL, "limits", NULL, "workload limits add up to %s, more than "
			  "limits_share %.0f%% of RAM (%s)", fmt_b(sum, b1),
			  a->policy->host.limits_share, fmt_b(a->limits_share_bytes, b2));
		a->limits_warned = true;
	}
}

void mx_client_metric(struct mx_agent *a, struct mx_workload *w, const char *name, double v)
{
	(void)a;
	if (w->pol->metric.source != MX_METRIC_CLIENT ||
	    (w->pol->metric.name && strcmp(w->pol->metric.name, name)))
		return;
	w->metric = v;
	w->metric_seen = true;
	w->metric_ms = mx_now_ms();
}

void mx_client_freed(struct mx_agent *a, struct mx_workload *w, uint64_t id, uint64_t bytes)
{
	json_object *f = json_object_new_object();
	char b1[24];

	json_object_object_add(f, "id", json_object_new_uint64(id));
	json_object_object_add(f, "bytes", json_object_new_uint64(bytes));
	if (id == w->shed_id) {
		w->freed_bytes += bytes;
		w->freed_total += bytes;
	}
	mx_decide(a, w, "freed", f, "client freed %s for request %" PRIu64 "%s",
		  fmt_b(bytes, b1), id, id == w->shed_id ? "" : " (not the current request)");
}

/* ---- the control run ---- */

void mx_control_run(struct mx_agent *a, const char *why)
{
	struct mx_workload *w, *next;

	(void)why;
	a->last_run_ms = mx_now_ms();
	host_read(a);
	mx_workloads_rescan(a);
	for (w = a->workloads; w; w = w->next)
		workload_update(a, w);
	for (w = a->workloads; w; w = w->next) {
		if (!w->st.exists)
			continue;
		apply_static_protection(a, w);
		thresholds(a, w);
		trim_probe(a, w);
	}
	limits_check(a);
	host_control(a);
	for (w = a->workloads; w; w = next) {
		next = w->next;
		if (w->esc != MX_ESC_NONE && w->st.exists)
			a->be.ops->read_state(&a->be, w->cgpath, &w->st);
		escalation_step(a, w);
		mx_proto_update(a, w, false);
	}
	if (!a->dry_run)
		mx_state_save(a);
}

/* ---- state.json: what a restarted agent must not forget ---- */

void mx_state_load(struct mx_agent *a)
{
	a->saved_state = json_object_from_file(a->policy->agent.state_file);
	if (a->saved_state)
		printf("state: adopted %s\n", a->policy->agent.state_file);
}

void mx_state_save(struct mx_agent *a)
{
	json_object *root = json_object_new_object(), *ws = json_object_new_object();
	char tmp[PATH_MAX + 8];
	struct mx_workload *w;

	json_object_object_add(root, "version", json_object_new_int(1));
	json_object_object_add(root, "saved", json_object_new_double(mx_wall_time()));
	/* Keep what the previous run knew of cgroups not seen yet. */
	if (a->saved_state) {
		json_object *old;

		if (json_object_object_get_ex(a->saved_state, "workloads", &old)) {
			json_object_object_foreach(old, k, v) {
				if (!mx_workload_by_cgroup(a, k) && !access(k, F_OK))
					json_object_object_add(ws, k, json_object_get(v));
			}
		}
	}
	for (w = a->workloads; w; w = w->next) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(w->name));
		json_object_object_add(o, "estimate", json_object_new_uint64(w->estimate));
		json_object_object_add(o, "low_written", json_object_new_uint64(w->low_written));
		json_object_object_add(o, "escalation",
				       json_object_new_string(mx_escalation_name(w->esc)));
		json_object_object_add(ws, w->cgpath, o);
	}
	json_object_object_add(root, "workloads", ws);
	snprintf(tmp, sizeof(tmp), "%s.tmp", a->policy->agent.state_file);
	if (!json_object_to_file_ext(tmp, root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE))
		rename(tmp, a->policy->agent.state_file);
	json_object_put(root);
}

/* ---- F16: what runs natively, emulated, or not at all ---- */

void mx_features_report(struct mx_agent *a)
{
	bool psi = !access("/proc/pressure/memory", R_OK);
	bool reclaim, kill, swap;
	json_object *ev = json_object_new_object(), *f = json_object_new_object();
	const char *native_or_off;
	size_t len = 0;
	struct {
		const char *id, *what, *mode;
	} feats[16];
	int n = 0, i;

	a->memcg_ext_kernel = !access("/sys/kernel/memcg_ext", F_OK);
	/* memory.reclaim (5.19) and cgroup.kill (5.14) exist only below the root. */
	{
		struct utsname u;
		int maj = 0, min = 0;

		if (!uname(&u))
			sscanf(u.release, "%d.%d", &maj, &min);
		reclaim = maj > 5 || (maj == 5 && min >= 19);
		kill = maj > 5 || (maj == 5 && min >= 14);
	}
	{
		char buf[256];

		swap = mx_read_file("/proc/swaps", buf, sizeof(buf)) > 0 && strchr(buf, '\n') &&
		       strchr(buf, '\n')[1];
	}
	native_or_off = a->memcg_ext_kernel ? "off (memcg_ext kernel found; its agent backend "
		"comes later)" : "off (needs the memcg_ext kernel)";
#define FEAT(i_, w_, m_) \
	do { feats[n].id = i_; feats[n].what = w_; feats[n].mode = m_; n++; } while (0)
	FEAT("F1", "background reclaim",
	     reclaim ? "emulated (memory.reclaim from the agent at T1)" : "off");
	FEAT("F2", "watermark events", psi ? "emulated (PSI triggers, memory.events poll, timer)" :
	     "emulated (memory.events poll, timer; no PSI)");
	FEAT("F4", "lock-aware throttling", native_or_off);
	FEAT("F5", "thread classes", native_or_off);
	FEAT("F6", "tiered escalation", "emulated (T1 reclaim, T2 shed, T3 kill; no throttling)");
	FEAT("F7", "memory+swap ceiling", swap ? "emulated (memory.swap.max)" : "off (no swap)");
	FEAT("F8", "dynamic protection and trim", psi ? "emulated (memory.low, memory.reclaim "
	     "probe on refaults, PSI, metric)" : "emulated (refaults and metric only, no PSI)");
	FEAT("F11", "load shedding", "native (agent socket)");
	FEAT("F13", "OOM collaboration", kill ? "emulated (cgroup.kill, scheduler hook)" : "off");
	FEAT("F15", "host utilization ceiling", "emulated (memory.reclaim, shed, kill)");
	FEAT("F17", "observability", a->policy->agent.metrics_listen ?
	     "native (CLI, event log, Prometheus)" : "native (CLI, event log; no HTTP listener)");
#undef FEAT
	printf("memcg_ext_agent: kernel %s, backend %s%s\n",
	       a->memcg_ext_kernel ? "memcg_ext" : "stock", a->be.ops->name,
	       a->dry_run ? ", DRY RUN" : "");
	for (i = 0; i < n; i++) {
		printf("feature %-4s %-28s %s\n", feats[i].id, feats[i].what, feats[i].mode);
		json_object_object_add(f, feats[i].id, json_object_new_string(feats[i].mode));
		len += snprintf(a->features + len, sizeof(a->features) - len < 2 ? 0 :
				sizeof(a->features) - len, "%s%s=%.*s", i ? ";" : "", feats[i].id,
				(int)strcspn(feats[i].mode, " "), feats[i].mode);
		if (len >= sizeof(a->features))
			len = sizeof(a->features) - 1;
	}
	fflush(stdout);
	json_object_object_add(ev, "time", json_object_new_double(mx_wall_time()));
	json_object_object_add(ev, "action", json_object_new_string("features"));
	json_object_object_add(ev, "kernel", json_object_new_string(a->memcg_ext_kernel ?
							       "memcg_ext" : "stock"));
	json_object_object_add(ev, "features", f);
	mx_event_log(a, ev);
	json_object_put(ev);
}
