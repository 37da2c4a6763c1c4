// SPDX-License-Identifier: GPL-2.0
/*
 * What the agent shows and tells: the control socket of memcg_extctl
 * (one request line, one JSON reply line), the Prometheus text exposition
 * over HTTP, the JSON-lines event log, and the job-scheduler hook.
 *
 * HTTP: Debian's libmicrohttpd.a is built with TLS and needs gnutls, whose
 * static link needs p11-kit, which Debian ships only as a shared library;
 * the VM takes only static binaries. Serving one GET of a text page needs
 * no library, so the exposition is answered here, on the agent's own
 * event loop (HTTP/1.0, Connection: close).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"

/* ---- event log ---- */

void mx_event_log(struct mx_agent *a, json_object *ev)
{
	if (!a->event_log)
		return;
	fprintf(a->event_log, "%s\n", json_object_to_json_string_ext(ev,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(a->event_log);
}

/* ---- status, shared by the CLI and the metrics ---- */

static json_object *u64(uint64_t v)
{
	return v == MX_UNLIMITED ? json_object_new_string("max") : json_object_new_uint64(v);
}

static json_object *headroom(uint64_t t, uint64_t u)
{
	return t ? json_object_new_int64((int64_t)t - (int64_t)u) : NULL;
}

json_object *mx_status_json(struct mx_agent *a)
{
	json_object *root = json_object_new_object(), *host = json_object_new_object();
	json_object *wls = json_object_new_array();
	struct mx_workload *w;

	json_object_object_add(root, "policy", json_object_new_string(a->policy->file));
	json_object_object_add(root, "dry_run", json_object_new_boolean(a->dry_run));
	json_object_object_add(root, "kernel", json_object_new_string(a->memcg_ext_kernel ?
								 "memcg_ext" : "stock"));
	json_object_object_add(root, "backend", json_object_new_string(a->be.ops->name));
	json_object_object_add(root, "features", json_object_new_string(a->features));
	json_object_object_add(root, "uptime_s",
			       json_object_new_double((mx_now_ms() - a->start_ms) / 1000.0));
	json_object_object_add(host, "mem_total", json_object_new_uint64(a->mem_total));
	json_object_object_add(host, "used", json_object_new_uint64(a->host_used));
	json_object_object_add(host, "ceiling", json_object_new_uint64(a->host_ceiling));
	json_object_object_add(host, "psi_some_avg10",
			       json_object_new_double(a->host_psi_some_avg10));
	json_object_object_add(host, "reclaimed", json_object_new_uint64(a->host_reclaimed_bytes));
	json_object_object_add(host, "limits_sum", json_object_new_uint64(a->limits_sum));
	json_object_object_add(host, "limits_share", json_object_new_uint64(a->limits_share_bytes));
	json_object_object_add(root, "host", host);
	for (w = a->workloads; w; w = w->next) {
		json_object *o = json_object_new_object();
		struct mx_decision *d = w->nr_dec ? &w->dec[(w->nr_dec - 1) % MX_NR_DECISIONS] : NULL;

		json_object_object_add(o, "name", json_object_new_string(w->name));
		json_object_object_add(o, "cgroup", json_object_new_string(w->cgpath));
		json_object_object_add(o, "priority", json_object_new_int(w->pol->priority));
		json_object_object_add(o, "protected", json_object_new_boolean(w->pol->protected));
		json_object_object_add(o, "usage", json_object_new_uint64(w->st.current));
		json_object_object_add(o, "swap", json_object_new_uint64(w->st.swap_current));
		json_object_object_add(o, "min", u64(w->st.min));
		json_object_object_add(o, "low", u64(w->st.low));
		json_object_object_add(o, "high", u64(w->st.high));
		json_object_object_add(o, "max", u64(w->st.max));
		json_object_object_add(o, "swap_max", u64(w->st.swap_max));
		json_object_object_add(o, "t1", json_object_new_uint64(w->t1));
		json_object_object_add(o, "t2", json_object_new_uint64(w->t2));
		json_object_object_add(o, "t3", json_object_new_uint64(w->t3));
		json_object_object_add(o, "headroom_t1", headroom(w->t1, w->st.current));
		json_object_object_add(o, "headroom_t2", headroom(w->t2, w->st.current));
		json_object_object_add(o, "headroom_t3", headroom(w->t3, w->st.current));
		json_object_object_add(o, "level", json_object_new_string(mx_level_name(w->level)));
		json_object_object_add(o, "pressure", json_object_new_double(w->pressure));
		json_object_object_add(o, "psi_some_avg10",
				       json_object_new_double(w->st.psi_some_avg10));
		json_object_object_add(o, "protection", json_object_new_string(
				       mx_protection_mode_name(w->pol->protection.mode)));
		json_object_object_add(o, "estimate", json_object_new_uint64(w->estimate));
		json_object_object_add(o, "escalation",
				       json_object_new_string(mx_escalation_name(w->esc)));
		json_object_object_add(o, "clients", json_object_new_int(mx_proto_nr_subscribed(a, w)));
		json_object_object_add(o, "reclaimed", json_object_new_uint64(w->reclaimed_bytes));
		json_object_object_add(o, "shed_requests", json_object_new_uint64(w->shed_requests));
		json_object_object_add(o, "freed", json_object_new_uint64(w->freed_total));
		json_object_object_add(o, "kills", json_object_new_uint64(w->kills));
		json_object_object_add(o, "refaults", json_object_new_uint64(w->st.refault_anon +
									     w->st.refault_file));
		if (d) {
			json_object_object_add(o, "last_action", json_object_new_string(d->action));
			json_object_object_add(o, "last_reason", json_object_new_string(d->reason));
			json_object_object_add(o, "last_time", json_object_new_double(d->time));
		}
		json_object_array_add(wls, o);
	}
	json_object_object_add(root, "workloads", wls);
	return root;
}

static json_object *explain_json(struct mx_agent *a, const char *name)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();
	struct mx_workload *w = mx_workload_find(a, name);
	const struct mx_workload_policy *p;
	char buf[512];
	int i, first;

	if (!w) {
		json_object_object_add(root, "error", json_object_new_string("no such workload"));
		json_object_put(arr);
		return root;
	}
	p = w->pol;
	json_object_object_add(root, "workload", json_object_new_string(w->name));
	snprintf(buf, sizeof(buf),
		 "priority %d%s; thresholds t1=%" PRIu64 " t2=%" PRIu64 " t3=%" PRIu64
		 "; protection %s (probe %.1f%%, refault target %.2f%%/s, stall target %.2f%%); "
		 "shedding %s (grace %" PRIu64 " ms); metric %s (now %.4g, avg %.4g, baseline "
		 "%.4g, noise %.1f%%); estimate %" PRIu64
		 "%s; %d probe cycles; escalation %s%s%s",
		 p->priority, p->protected ? ", protected" : "", w->t1, w->t2, w->t3,
		 mx_protection_mode_name(p->protection.mode), p->protection.probe_step,
		 p->protection.refault_target, p->protection.psi_target,
		 p->shedding.enabled ? "on" : "off", p->shedding.grace_period_ms,
		 p->metric.source == MX_METRIC_NONE ? "none" : p->metric.name, w->metric,
		 w->metric_avg, w->metric_baseline, w->metric_noise * 100, w->estimate,
		 w->estimate_adopted ? " (adopted at start)" : "", w->fresh_cycles,
		 mx_escalation_name(w->esc), w->esc ? ": " : "", w->esc ? w->esc_reason : "");
	json_object_object_add(root, "summary", json_object_new_string(buf));
	first = w->nr_dec > MX_NR_DECISIONS ? w->nr_dec - MX_NR_DECISIONS : 0;
	for (i = first; i < w->nr_dec; i++) {
		struct mx_decision *d = &w->dec[i % MX_NR_DECISIONS];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "time", json_object_new_double(d->time));
		json_object_object_add(o, "action", json_object_new_string(d->action));
		json_object_object_add(o, "reason", json_object_new_string(d->reason));
		json_object_object_add(o, "repeat", json_object_new_int(d->repeat));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "decisions", arr);
	return root;
}

/* ---- control socket ---- */

int mx_ctl_listen(struct mx_agent *a)
{
	int fd = mx_unix_listen(a->policy->agent.control_socket, 0600);

	if (fd < 0)
		return fd;
	a->ctl_src = (struct mx_src){ MX_SRC_CTL_LISTEN, fd, NULL };
	mx_watch(a, &a->ctl_src, EPOLLIN);
	return 0;
}

static void ctl_request(struct mx_agent *a, int fd)
{
	struct timeval tv = { .tv_sec = 1 };
	char req[512];
	json_object *reply;
	const char *s;
	ssize_t n, got = 0;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (got < (ssize_t)sizeof(req) - 1 && !memchr(req, '\n', got)) {
		n = recv(fd, req + got, sizeof(req) - 1 - got, 0);
		if (n <= 0)
			break;
		got += n;
	}
	req[got] = '\0';
	req[strcspn(req, "\r\n")] = '\0';
	if (!strcmp(req, "status")) {
		reply = mx_status_json(a);
	} else if (!strncmp(req, "explain ", 8)) {
		reply = explain_json(a, req + 8);
	} else if (!strcmp(req, "reload")) {
		reply = json_object_new_object();
		mx_reload(a, reply);
	} else if (!strcmp(req, "dry-run on") || !strcmp(req, "dry-run off")) {
		a->dry_run = !strcmp(req, "dry-run on");
		a->dry_run_forced = true;
		reply = json_object_new_object();
		json_object_object_add(reply, "ok", json_object_new_boolean(1));
		json_object_object_add(reply, "dry_run", json_object_new_boolean(a->dry_run));
		mx_decide(a, NULL, "dry-run", NULL, "dry-run %s (from the CLI)",
			  a->dry_run ? "on" : "off");
	} else {
		reply = json_object_new_object();
		json_object_object_add(reply, "error", json_object_new_string(
			"unknown request; known: status, explain NAME, reload, dry-run on|off"));
	}
	s = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (send(fd, s, strlen(s), MSG_NOSIGNAL) >= 0)
		send(fd, "\n", 1, MSG_NOSIGNAL);
	json_object_put(reply);
}

void mx_ctl_accept(struct mx_agent *a)
{
	int fd;

	while ((fd = accept4(a->ctl_src.fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		ctl_request(a, fd);
		close(fd);
	}
}

/* ---- Prometheus exposition ---- */

int mx_http_listen(struct mx_agent *a)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64], *colon;
	int fd, one = 1;

	if (!a->policy->agent.metrics_listen)
		return 0;
	snprintf(host, sizeof(host), "%s", a->policy->agent.metrics_listen);
	colon = strrchr(host, ':');
	*colon = '\0';
	sa.sin_port = htons(atoi(colon + 1));
	if (!*host || !strcmp(host, "*"))
		sa.sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 8)) {
		int err = -errno;

		close(fd);
		return err;
	}
	a->http_src = (struct mx_src){ MX_SRC_HTTP_LISTEN, fd, NULL };
	mx_watch(a, &a->http_src, EPOLLIN);
	return 0;
}

struct buf {
	char *s;
	size_t len;
};

static void __attribute__((format(printf, 2, 3))) bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *add;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&add, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	b->s = realloc(b->s, b->len + n + 1);
	memcpy(b->s + b->len, add, n + 1);
	b->len += n;
	free(add);
}

static void metric_head(struct buf *b, const char *name, const char *type, const char *help)
{
	bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metrics_text(struct mx_agent *a, struct buf *b)
{
	struct mx_workload *w;
	static const struct {
		const char *name, *type, *help;
		size_t off;
		bool is_double;
	} per_wl[] = {
#define F(n, t, h, field) { n, t, h, offsetof(struct mx_workload, field), false }
		F("memcg_ext_workload_usage_bytes", "gauge", "memory.current", st.current),
		F("memcg_ext_workload_swap_bytes", "gauge", "memory.swap.current", st.swap_current),
		F("memcg_ext_workload_low_bytes", "gauge", "memory.low", st.low),
		F("memcg_ext_workload_min_bytes", "gauge", "memory.min", st.min),
		F("memcg_ext_workload_estimate_bytes", "gauge", "working-set estimate", estimate),
		F("memcg_ext_workload_t1_bytes", "gauge", "threshold T1 (0: none)", t1),
		F("memcg_ext_workload_t2_bytes", "gauge", "threshold T2 (0: none)", t2),
		F("memcg_ext_workload_t3_bytes", "gauge", "threshold T3 (0: none)", t3),
		F("memcg_ext_workload_reclaimed_bytes_total", "counter", "bytes reclaimed by the agent",
		  reclaimed_bytes),
		F("memcg_ext_workload_reclaim_calls_total", "counter", "memory.reclaim writes",
		  reclaim_calls),
		F("memcg_ext_workload_shed_requests_total", "counter", "SHED requests sent",
		  shed_requests),
		F("memcg_ext_workload_freed_bytes_total", "counter", "bytes clients said they freed",
		  freed_total),
		F("memcg_ext_workload_kills_total", "counter", "kills of the workload", kills),
#undef F
		{ "memcg_ext_workload_pressure", "gauge", "pressure value 0..1",
		  offsetof(struct mx_workload, pressure), true },
		{ "memcg_ext_workload_psi_some_avg10", "gauge", "memory PSI some avg10 (%)",
		  offsetof(struct mx_workload, st.psi_some_avg10), true },
	};
	size_t i;

	metric_head(b, "memcg_ext_host_memory_total_bytes", "gauge", "MemTotal");
	bprintf(b, "memcg_ext_host_memory_total_bytes %" PRIu64 "\n", a->mem_total);
	metric_head(b, "memcg_ext_host_used_bytes", "gauge", "MemTotal - MemAvailable");
	bprintf(b, "memcg_ext_host_used_bytes %" PRIu64 "\n", a->host_used);
	metric_head(b, "memcg_ext_host_ceiling_bytes", "gauge", "host.utilization_ceiling");
	bprintf(b, "memcg_ext_host_ceiling_bytes %" PRIu64 "\n", a->host_ceiling);
	metric_head(b, "memcg_ext_agent_dry_run", "gauge", "1 in dry-run mode");
	bprintf(b, "memcg_ext_agent_dry_run %d\n", a->dry_run);
	for (i = 0; i < ARRAY_SIZE(per_wl); i++) {
		metric_head(b, per_wl[i].name, per_wl[i].type, per_wl[i].help);
		for (w = a->workloads; w; w = w->next) {
			const char *p = (const char *)w + per_wl[i].off;

			if (per_wl[i].is_double)
				bprintf(b, "%s{workload=\"%s\"} %g\n", per_wl[i].name, w->name,
					*(const double *)p);
			else
				bprintf(b, "%s{workload=\"%s\"} %" PRIu64 "\n", per_wl[i].name,
					w->name, *(const uint64_t *)p);
		}
	}
	metric_head(b, "memcg_ext_workload_level", "gauge",
		    "pressure level: 0 none, 1 low, 2 medium, 3 high, 4 critical");
	for (w = a->workloads; w; w = w->next)
		bprintf(b, "memcg_ext_workload_level{workload=\"%s\"} %d\n", w->name, w->level);
}

void mx_http_accept(struct mx_agent *a)
{
	struct timeval tv = { .tv_usec = 500000 };
	struct buf body = { 0 };
	char req[2048], head[256];
	ssize_t n, got = 0;
	int fd;

	while ((fd = accept4(a->http_src.fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		got = 0;
		while (got < (ssize_t)sizeof(req) - 1) {
			n = recv(fd, req + got, sizeof(req) - 1 - got, 0);
			if (n <= 0)
				break;
			got += n;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
				break;
		}
		req[got] = '\0';
		if (!strncmp(req, "GET /metrics ", 13) || !strncmp(req, "GET / ", 6)) {
			body.len = 0;
			metrics_text(a, &body);
			snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\nContent-Type: text/plain; "
				 "version=0.0.4\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
				 body.len);
			if (send(fd, head, strlen(head), MSG_NOSIGNAL) > 0)
				send(fd, body.s, body.len, MSG_NOSIGNAL);
		} else {
			static const char nf[] = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n"
						 "Connection: close\r\n\r\n";
			send(fd, nf, sizeof(nf) - 1, MSG_NOSIGNAL);
		}
		close(fd);
	}
	free(body.s);
}

/* ---- job-scheduler hook ---- */

void mx_hook_notify(struct mx_agent *a, struct mx_workload *w, const char *event,
		    const char *reason)
{
	json_object *ev = json_object_new_object();
	const char *s;
	char line[2048];
	int i;

	json_object_object_add(ev, "event", json_object_new_string(event));
	json_object_object_add(ev, "workload", json_object_new_string(w->name));
	json_object_object_add(ev, "cgroup", json_object_new_string(w->cgpath));
	json_object_object_add(ev, "priority", json_object_new_int(w->pol->priority));
	json_object_object_add(ev, "usage", json_object_new_uint64(w->st.current));
	json_object_object_add(ev, "reason", json_object_new_string(reason));
	json_object_object_add(ev, "drain_timeout_ms",
			       json_object_new_uint64(a->policy->scheduler.drain_timeout_ms));
	json_object_object_add(ev, "cleanup", json_object_new_boolean(w->pol->on_kill.cleanup));
	json_object_object_add(ev, "dry_run", json_object_new_boolean(a->dry_run));
	json_object_object_add(ev, "time", json_object_new_double(mx_wall_time()));
	s = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	snprintf(line, sizeof(line), "%s\n", s);
	json_object_put(ev);
	mx_decide(a, w, "hook", NULL, "scheduler told: %s", event);

	if (a->policy->scheduler.hook_socket) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct timeval tv = { .tv_sec = 1 };

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", a->policy->scheduler.hook_socket);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
		    send(fd, line, strlen(line), MSG_NOSIGNAL) < 0)
			mx_decide(a, w, "hook-error", NULL, "scheduler socket %s: %s",
				  a->policy->scheduler.hook_socket, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	if (a->policy->scheduler.hook_command) {
		int pfd[2];
		pid_t pid;

		if (pipe2(pfd, O_CLOEXEC))
			return;
		pid = fork();
		if (pid == 0) {
			sigset_t all;

			sigemptyset(&all);
			sigprocmask(SIG_SETMASK, &all, NULL);
			dup2(pfd[0], 0);
			setsid();
			execl("/bin/sh", "sh", "-c", a->policy->scheduler.hook_command, (char *)NULL);
			_exit(127);
		}
		close(pfd[0]);
		/* The event is far smaller than a pipe buffer: this cannot block. */
		if (pid > 0 && write(pfd[1], line, strlen(line)) < 0)
			mx_decide(a, w, "hook-error", NULL, "write to hook: %s", strerror(errno));
		close(pfd[1]);
		for (i = 0; pid > 0 && i < (int)ARRAY_SIZE(a->hooks); i++)
			if (!a->hooks[i].pid) {
				a->hooks[i].pid = pid;
				a->hooks[i].deadline_ms = mx_now_ms() + 10000;
				break;
			}
	}
}

/* Reap finished hook commands; a hook that hangs is killed after 10 s. */
void mx_hook_reap(struct mx_agent *a)
{
	uint64_t now = mx_now_ms();
	pid_t pid;
	int st, i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		for (i = 0; i < (int)ARRAY_SIZE(a->hooks); i++)
			if (a->hooks[i].pid == pid)
				a->hooks[i].pid = 0;
	for (i = 0; i < (int)ARRAY_SIZE(a->hooks); i++)
		if (a->hooks[i].pid && now > a->hooks[i].deadline_ms) {
			kill(-a->hooks[i].pid, SIGKILL);
			a->hooks[i].deadline_ms = now + 10000;
		}
}
