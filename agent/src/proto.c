// SPDX-License-Identifier: GPL-2.0
/*
 * The load-shedding socket (docs/PROTOCOL.md): a Unix stream socket, one
 * message per line, "VERB key=value ...". The agent never blocks on a
 * client: sockets are non-blocking and a client whose buffer is full or
 * that sends garbage is dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"

static int mkdir_parent(const char *path)
{
	char dir[PATH_MAX], *s;

	snprintf(dir, sizeof(dir), "%s", path);
	s = strrchr(dir, '/');
	if (!s || s == dir)
		return 0;
	*s = '\0';
	for (s = dir + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(dir, 0755);
			*s = '/';
		}
	return mkdir(dir, 0755) && errno != EEXIST ? -errno : 0;
}

int mx_unix_listen(const char *path, int mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	mkdir_parent(path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16)) {
		int err = -errno;

		close(fd);
		return err;
	}
	chmod(path, mode);
	return fd;
}

int mx_proto_listen(struct mx_agent *a)
{
	int fd = mx_unix_listen(a->policy->agent.socket, 0666);

	if (fd < 0)
		return fd;
	a->listen_src = (struct mx_src){ MX_SRC_LISTEN, fd, NULL };
	mx_watch(a, &a->listen_src, EPOLLIN);
	return 0;
}

static void client_send(struct mx_client *c, const char *line)
{
	size_t n = strlen(line);
	ssize_t w;

	if (c->dead)
		return;
	w = send(c->src.fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w != (ssize_t)n)
		c->dead = true;	/* a client that cannot keep up is dropped */
}

static void client_printf(struct mx_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void client_printf(struct mx_client *c, const char *fmt, ...)
{
	char line[MX_LINE_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n] = '\n';
	line[n + 1] = '\0';
	client_send(c, line);
}

void mx_proto_accept(struct mx_agent *a)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct mx_client *c;
	int fd, i;

	while ((fd = accept4(a->listen_src.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		for (i = 0; i < MX_MAX_CLIENTS && a->clients[i]; i++)
			;
		if (i == MX_MAX_CLIENTS) {
			send(fd, "ERR code=busy msg=too_many_clients\n", 35, MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		c->src = (struct mx_src){ MX_SRC_CLIENT, fd, c };
		if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
			c->pid = cred.pid;
		a->clients[i] = c;
		mx_watch(a, &c->src, EPOLLIN);
	}
}

/* The workload of a process: its cgroup, or the nearest workload above it. */
static struct mx_workload *workload_of_pid(struct mx_agent *a, pid_t pid)
{
	char path[64], buf[PATH_MAX], cg[PATH_MAX * 2];

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (mx_read_file(path, buf, sizeof(buf)) <= 0 || strncmp(buf, "0::", 3))
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(cg, sizeof(cg), "%s%s", a->policy->agent.cgroup_root, buf + 3);
	return mx_workload_by_cgroup(a, cg);
}

static const char *get_kv(char *const *kv, int n, const char *key)
{
	size_t kl = strlen(key);
	int i;

	for (i = 0; i < n; i++)
		if (!strncmp(kv[i], key, kl) && kv[i][kl] == '=')
			return kv[i] + kl + 1;
	return NULL;
}

static void headroom_line(struct mx_workload *w, char *buf, size_t len)
{
	uint64_t u = w->st.current;
	char t[3][32], mx[32];
	uint64_t th[3] = { w->t1, w->t2, w->t3 };
	int i;

	for (i = 0; i < 3; i++) {
		if (th[i])
			snprintf(t[i], sizeof(t[i]), "%" PRId64, (int64_t)th[i] - (int64_t)u);
		else
			snprintf(t[i], sizeof(t[i]), "max");	/* no such threshold */
	}
	if (w->st.max == MX_UNLIMITED)
		snprintf(mx, sizeof(mx), "max");
	else
		snprintf(mx, sizeof(mx), "%" PRId64, (int64_t)w->st.max - (int64_t)u);
	snprintf(buf, len, "HEADROOM usage=%" PRIu64 " t1=%s t2=%s t3=%s max=%s",
		 u, t[0], t[1], t[2], mx);
}

static void send_update(struct mx_client *c, struct mx_workload *w, bool force)
{
	char hr[256], pr[256];
	uint64_t now = mx_now_ms();
	bool periodic = c->interval_ms && now - c->last_sent_ms >= c->interval_ms;

	headroom_line(w, hr, sizeof(hr));
	snprintf(pr, sizeof(pr), "PRESSURE level=%s value=%.3f psi_some_avg10=%.2f",
		 mx_level_name(w->level), w->pressure, w->st.psi_some_avg10);
	/* "On every change": usage moves all the time, so 1 MiB is a change. */
	if (force || periodic || strcmp(pr, c->last_pressure) ||
	    strcmp(strchr(hr + 9, ' '), c->last_headroom_rest) ||
	    (w->st.current > c->last_usage ? w->st.current - c->last_usage :
	     c->last_usage - w->st.current) >= (1 << 20)) {
		client_printf(c, "%s", hr);
		client_printf(c, "%s", pr);
		snprintf(c->last_headroom_rest, sizeof(c->last_headroom_rest), "%s",
			 strchr(hr + 9, ' '));
		c->last_usage = w->st.current;
		snprintf(c->last_pressure, sizeof(c->last_pressure), "%s", pr);
		c->last_sent_ms = now;
	}
}

static void handle_line(struct mx_agent *a, struct mx_client *c, char *line)
{
	char *kv[32], *verb, *save, *tok;
	struct mx_workload *w = c->workload[0] ? mx_workload_find(a, c->workload) : NULL;
	const char *v;
	int n = 0;

	verb = strtok_r(line, " ", &save);
	if (!verb)
		return;
	while ((tok = strtok_r(NULL, " ", &save)) && n < 32)
		kv[n++] = tok;
	if (!strcmp(verb, "HELLO")) {
		v = get_kv(kv, n, "version");
		if (!v || atoi(v) != MX_PROTOCOL_VERSION) {
			client_printf(c, "ERR code=bad-version msg=this_agent_speaks_version_%d",
				      MX_PROTOCOL_VERSION);
			return;
		}
		v = get_kv(kv, n, "workload");
		w = v ? mx_workload_find(a, v) : workload_of_pid(a, c->pid);
		if (!w) {
			client_printf(c, "ERR code=no-workload msg=%s",
				      v ? "no_such_workload_in_the_policy" :
				      "your_cgroup_is_not_a_workload_of_the_policy");
			return;
		}
		snprintf(c->workload, sizeof(c->workload), "%s", w->name);
		client_printf(c, "WELCOME version=%d workload=%s cgroup=%s", MX_PROTOCOL_VERSION,
			      w->name, w->cgpath);
		mx_decide(a, w, "hello", NULL, "client pid %d connected", c->pid);
		return;
	}
	if (!strcmp(verb, "BYE")) {
		c->dead = true;
		return;
	}
	if (strcmp(verb, "SUBSCRIBE") && strcmp(verb, "FREED") && strcmp(verb, "METRIC")) {
		client_printf(c, "ERR code=unknown-verb msg=%s", verb);
		return;
	}
	if (!w) {
		client_printf(c, "ERR code=no-hello msg=send_HELLO_first");
		return;
	}
	if (!strcmp(verb, "SUBSCRIBE")) {
		v = get_kv(kv, n, "interval_ms");
		c->interval_ms = v ? strtoull(v, NULL, 10) : 0;
		if (c->interval_ms && c->interval_ms < 100)
			c->interval_ms = 100;
		c->subscribed = true;
		send_update(c, w, true);
	} else if (!strcmp(verb, "FREED")) {
		const char *id = get_kv(kv, n, "id"), *bytes = get_kv(kv, n, "bytes");

		if (!id || !bytes) {
			client_printf(c, "ERR code=bad-args msg=FREED_needs_id_and_bytes");
			return;
		}
		mx_client_freed(a, w, strtoull(id, NULL, 10), strtoull(bytes, NULL, 10));
	} else {
		const char *name = get_kv(kv, n, "name"), *val = get_kv(kv, n, "value");

		if (!name || !val) {
			client_printf(c, "ERR code=bad-args msg=METRIC_needs_name_and_value");
			return;
		}
		mx_client_metric(a, w, name, strtod(val, NULL));
	}
}

void mx_proto_input(struct mx_agent *a, struct mx_client *c)
{
	ssize_t n;
	char *nl;

	/* A dead client is freed between batches; until then it is not read. */
	while (!c->dead) {
		n = recv(c->src.fd, c->rbuf + c->rlen, MX_LINE_MAX - c->rlen, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			c->dead = true;
			break;
		}
		if (n < 0)
			break;
		c->rlen += n;
		c->rbuf[c->rlen] = '\0';
		while ((nl = memchr(c->rbuf, '\n', c->rlen))) {
			*nl = '\0';
			if (nl > c->rbuf && nl[-1] == '\r')
				nl[-1] = '\0';
			handle_line(a, c, c->rbuf);
			c->rlen -= nl + 1 - c->rbuf;
			memmove(c->rbuf, nl + 1, c->rlen);
			c->rbuf[c->rlen] = '\0';
		}
		if (c->rlen >= MX_LINE_MAX) {
			client_printf(c, "ERR code=line-too-long msg=lines_are_at_most_%d_bytes",
				      MX_LINE_MAX);
			c->dead = true;
			break;
		}
	}
}

void mx_proto_update(struct mx_agent *a, struct mx_workload *w, bool force)
{
	int i;

	for (i = 0; i < MX_MAX_CLIENTS; i++) {
		struct mx_client *c = a->clients[i];

		if (c && c->subscribed && !c->dead && !strcmp(c->workload, w->name))
			send_update(c, w, force);
	}
}

int mx_proto_send_workload(struct mx_agent *a, struct mx_workload *w, const char *fmt, ...)
{
	char line[MX_LINE_MAX + 1];
	va_list ap;
	int i, sent = 0;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	for (i = 0; i < MX_MAX_CLIENTS; i++) {
		struct mx_client *c = a->clients[i];

		if (c && c->subscribed && !c->dead && !strcmp(c->workload, w->name)) {
			client_printf(c, "%s", line);
			sent++;
		}
	}
	return sent;
}

int mx_proto_nr_subscribed(struct mx_agent *a, struct mx_workload *w)
{
	int i, n = 0;

	for (i = 0; i < MX_MAX_CLIENTS; i++)
		if (a->clients[i] && a->clients[i]->subscribed && !a->clients[i]->dead &&
		    !strcmp(a->clients[i]->workload, w->name))
			n++;
	return n;
}

void mx_proto_reap(struct mx_agent *a)
{
	int i;

	for (i = 0; i < MX_MAX_CLIENTS; i++) {
		struct mx_client *c = a->clients[i];

		if (!c || !c->dead)
			continue;
		mx_unwatch(a, &c->src);
		free(c);
		a->clients[i] = NULL;
	}
}
