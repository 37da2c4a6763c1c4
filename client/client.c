// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * memcg_ext workload client library: see include/memcg_ext/client.h and
 * docs/PROTOCOL.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "memcg_ext/client.h"

#define OUT_MAX		(64 * 1024)	/* queued output before -ENOBUFS */
#define NAME_MAX_LEN	64
#define MAX_KEYS	16

struct mxc {
	int fd;
	int err;		/* sticky -errno once the connection failed */
	bool discarding;	/* inside an overlong line: drop to '\n' */
	bool eof;
	uint64_t skipped;
	size_t rlen;
	char rbuf[2 * MXC_LINE_MAX];
	size_t olen;
	char *obuf;
	char workload[256];
	char cgroup[512];
};

static __thread char open_err[256];

const char *mxc_open_error(void)
{
	return open_err;
}

static void set_open_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(open_err, sizeof(open_err), fmt, ap);
	va_end(ap);
}

static const char *const level_names[] = {
	"none", "low", "medium", "high", "critical",
};

const char *mxc_level_name(enum mxc_level l)
{
	if (l < MXC_LEVEL_NONE || l > MXC_LEVEL_CRITICAL)
		return "unknown";
	return level_names[l];
}

enum mxc_level mxc_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (s && !strcmp(s, level_names[i]))
			return (enum mxc_level)i;
	return MXC_LEVEL_UNKNOWN;
}

/* A protocol token: 1..max printable ASCII chars, no space, no '='. */
static bool token_ok(const char *s, size_t max)
{
	size_t n = 0;

	if (!s || !*s)
		return false;
	for (; *s; s++, n++)
		if (*s <= ' ' || *s == '=' || *s == 0x7f || n >= max)
			return false;
	return true;
}

static bool name_ok(const char *s)
{
	size_t n = 0;

	if (!s || !*s)
		return false;
	for (; *s; s++, n++) {
		char ch = *s;

		if (n >= NAME_MAX_LEN)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
		      ch == ':' || ch == '-'))
			return false;
	}
	return true;
}

/* ---- output ---- */

int mxc_flush(struct mxc *c)
{
	if (c->err)
		return c->err;
	while (c->olen) {
		ssize_t n = send(c->fd, c->obuf, c->olen, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			c->err = -errno;
			return c->err;
		}
		memmove(c->obuf, c->obuf + n, c->olen - n);
		c->olen -= n;
	}
	return 0;
}

bool mxc_want_write(const struct mxc *c)
{
	return c && !c->err && c->olen > 0;
}

/* Queue one line (printf-style, without the '\n') and try to write it. */
static int sendf(struct mxc *c, const char *fmt, ...)
{
	char line[MXC_LINE_MAX + 1];
	va_list ap;
	int n;

	if (c->err)
		return c->err;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || n + 1 > MXC_LINE_MAX)
		return -EMSGSIZE;
	line[n++] = '\n';
	if (c->olen + n > OUT_MAX)
		return -ENOBUFS;
	memcpy(c->obuf + c->olen, line, n);
	c->olen += n;
	n = mxc_flush(c);
	return n < 0 ? n : 0;
}

/* ---- line parsing ---- */

struct kv {
	char *k, *v;
};

/* Split "VERB k=v k=v" in place. Returns the number of pairs, or -1 when
 * the line is malformed (no verb, a word without '='). */
static int split(char *line, char **verb, struct kv *kv, int max)
{
	int n = 0;
	char *save = NULL, *w;

	*verb = strtok_r(line, " ", &save);
	if (!*verb)
		return -1;
	for (const char *p = *verb; *p; p++)
		if (*p < 'A' || *p > 'Z')
			if (*p != '_')
				return -1;
	while ((w = strtok_r(NULL, " ", &save))) {
		char *eq = strchr(w, '=');

		if (!eq || eq == w)
			return -1;
		*eq = 0;
		if (n < max) {
			kv[n].k = w;
			kv[n].v = eq + 1;
			n++;
		}	/* else: more keys than we know; ignored */
	}
	return n;
}

static const char *get(struct kv *kv, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(kv[i].k, key))
			return kv[i].v;
	return NULL;
}

static bool parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return false;
	if (!strcmp(s, "max")) {
		*out = MXC_UNLIMITED;
		return true;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_f(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

/*
 * Parse one complete line (no '\n'). Returns 1 with *ev filled, 0 when the
 * line carries no event for the caller (WELCOME, unknown verb, malformed:
 * skipped).
 */
static int parse_line(struct mxc *c, char *line, struct mxc_event *ev)
{
	struct kv kv[MAX_KEYS];
	char *verb;
	int n;
	const char *v;

	for (char *p = line; *p; p++)
		if (*p == '\t' || *p == '\r')
			*p = ' ';
	n = split(line, &verb, kv, MAX_KEYS);
	if (n < 0)
		goto skip;
	memset(ev, 0, sizeof(*ev));
	if (!strcmp(verb, "HEADROOM")) {
		int64_t *t[] = { &ev->headroom.t1, &ev->headroom.t2,
				 &ev->headroom.t3, &ev->headroom.max };
		const char *keys[] = { "t1", "t2", "t3", "max" };

		ev->type = MXC_EV_HEADROOM;
		if (!parse_i64(get(kv, n, "usage"), &ev->headroom.usage) ||
		    ev->headroom.usage < 0 || ev->headroom.usage == MXC_UNLIMITED)
			goto skip;
		for (int i = 0; i < 4; i++) {
			v = get(kv, n, keys[i]);
			if (!v)
				*t[i] = MXC_UNLIMITED;
			else if (!parse_i64(v, t[i]))
				goto skip;
		}
		return 1;
	}
	if (!strcmp(verb, "PRESSURE")) {
		ev->type = MXC_EV_PRESSURE;
		v = get(kv, n, "level");
		if (!v)
			goto skip;
		ev->pressure.level = mxc_level_parse(v);
		if (!parse_f(get(kv, n, "value"), &ev->pressure.value))
			ev->pressure.value = NAN;
		if (!parse_f(get(kv, n, "psi_some_avg10"), &ev->pressure.psi_some_avg10))
			ev->pressure.psi_some_avg10 = NAN;
		return 1;
	}
	if (!strcmp(verb, "SHED")) {
		ev->type = MXC_EV_SHED;
		if (!parse_u64(get(kv, n, "id"), &ev->shed.id) ||
		    !parse_u64(get(kv, n, "bytes"), &ev->shed.bytes))
			goto skip;
		v = get(kv, n, "deadline_ms");
		if (v && !parse_u64(v, &ev->shed.deadline_ms))
			goto skip;
		v = get(kv, n, "level");
		ev->shed.level = v ? mxc_level_parse(v) : MXC_LEVEL_UNKNOWN;
		return 1;
	}
	if (!strcmp(verb, "KILL_NOTICE")) {
		ev->type = MXC_EV_KILL_NOTICE;
		v = get(kv, n, "deadline_ms");
		if (v && !parse_u64(v, &ev->kill_notice.deadline_ms))
			goto skip;
		return 1;
	}
	if (!strcmp(verb, "ERR")) {
		ev->type = MXC_EV_ERROR;
		copy_str(ev->error.code, sizeof(ev->error.code), get(kv, n, "code"));
		copy_str(ev->error.msg, sizeof(ev->error.msg), get(kv, n, "msg"));
		return 1;
	}
	if (!strcmp(verb, "WELCOME")) {
		/* A repeated WELCOME: refresh what we know, nothing to report. */
		if ((v = get(kv, n, "workload")))
			copy_str(c->workload, sizeof(c->workload), v);
		if ((v = get(kv, n, "cgroup")))
			copy_str(c->cgroup, sizeof(c->cgroup), v);
		return 0;
	}
skip:	/* unknown verb or unusable line */
	c->skipped++;
	return 0;
}

/*
 * Take the next complete line out of rbuf into line[] (NUL-terminated, no
 * '\n'). Returns 1 with a line, 0 when no complete line is buffered.
 * Overlong lines are dropped (counted) here.
 */
static int take_line(struct mxc *c, char *line)
{
	for (;;) {
		char *nl = memchr(c->rbuf, '\n', c->rlen);

		if (!nl) {
			if (c->rlen >= MXC_LINE_MAX) {
				/* no '\n' within the limit: overlong */
				if (!c->discarding)
					c->skipped++;
				c->discarding = true;
				c->rlen = 0;
			}
			return 0;
		}
		size_t len = nl - c->rbuf;	/* without '\n' */
		bool drop = c->discarding || len + 1 > MXC_LINE_MAX ||
			    memchr(c->rbuf, 0, len) != NULL;

		if (drop && !c->discarding)
			c->skipped++;
		if (!drop) {
			memcpy(line, c->rbuf, len);
			line[len] = 0;
		}
		c->discarding = false;
		memmove(c->rbuf, nl + 1, c->rlen - len - 1);
		c->rlen -= len + 1;
		if (!drop)
			return 1;
	}
}

/* Read what the socket has: 1 read something, 0 nothing (EAGAIN), <0 err. */
static int fill(struct mxc *c)
{
	for (;;) {
		ssize_t n;

		if (c->rlen == sizeof(c->rbuf))
			return 1;	/* take_line() makes room */
		n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
		if (n > 0) {
			c->rlen += n;
			return 1;
		}
		if (n == 0) {
			c->eof = true;
			return -EPIPE;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -errno;
	}
}

int mxc_next_event(struct mxc *c, struct mxc_event *ev)
{
	char line[MXC_LINE_MAX];
	int r;

	if (!c || !ev)
		return -EINVAL;
	if (c->olen) {
		r = mxc_flush(c);
		if (r < 0 && r != -EPIPE)	/* EPIPE: read what is left first */
			return r;
	}
	for (;;) {
		while (take_line(c, line))
			if (parse_line(c, line, ev))
				return 1;
		if (c->err)
			return c->err;
		r = fill(c);
		if (r == 0)
			return 0;
		if (r < 0) {
			/* Lines complete before the end still count. */
			c->err = r;
			while (take_line(c, line))
				if (parse_line(c, line, ev))
					return 1;
			return r;
		}
	}
}

/* ---- connection ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for WELCOME or ERR. 0, or -errno with open_err set. */
static int handshake(struct mxc *c, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	char line[MXC_LINE_MAX];

	for (;;) {
		while (take_line(c, line)) {
			struct kv kv[MAX_KEYS];
			char *verb;
			int n = split(line, &verb, kv, MAX_KEYS);
			const char *v;

			if (n < 0)
				continue;
			if (!strcmp(verb, "WELCOME")) {
				v = get(kv, n, "version");
				if (!v || strcmp(v, "1")) {
					set_open_err("agent answered WELCOME version=%s", v ? v : "(none)");
					return -EPROTO;
				}
				copy_str(c->workload, sizeof(c->workload), get(kv, n, "workload"));
				copy_str(c->cgroup, sizeof(c->cgroup), get(kv, n, "cgroup"));
				return 0;
			}
			if (!strcmp(verb, "ERR")) {
				const char *code = get(kv, n, "code");
				const char *msg = get(kv, n, "msg");

				set_open_err("agent refused HELLO: %s%s%s", code ? code : "(no code)",
					     msg ? ": " : "", msg ? msg : "");
				if (code && !strcmp(code, "no-workload"))
					return -ESRCH;
				if (code && !strcmp(code, "bad-version"))
					return -EPROTONOSUPPORT;
				return -EPROTO;
			}
			/* anything else before WELCOME: ignored */
		}
		int r = fill(c);

		if (r < 0) {
			set_open_err("agent closed the connection during HELLO: %s", strerror(-r));
			return r;
		}
		if (r > 0)
			continue;
		int left = (int)(end - now_ms());

		if (left <= 0) {
			set_open_err("no WELCOME from the agent within %d ms", timeout_ms);
			return -ETIMEDOUT;
		}
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

		if (poll(&pfd, 1, left) < 0 && errno != EINTR) {
			set_open_err("poll: %s", strerror(errno));
			return -errno;
		}
	}
}

struct mxc *mxc_open_timeout(const char *path, const char *workload, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct mxc *c;
	int r;

	open_err[0] = 0;
	if (!path || !*path)
		path = getenv(MXC_SOCK_ENV);
	if (!path || !*path)
		path = MXC_DEFAULT_SOCK;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		set_open_err("socket path too long: %s", path);
		errno = EINVAL;
		return NULL;
	}
	if (workload && !token_ok(workload, 200)) {
		set_open_err("bad workload name (1-200 printable characters, no spaces or '=')");
		errno = EINVAL;
		return NULL;
	}
	if (timeout_ms <= 0)
		timeout_ms = 5000;
	strcpy(sa.sun_path, path);
	c = calloc(1, sizeof(*c));
	if (!c || !(c->obuf = malloc(OUT_MAX))) {
		free(c);
		set_open_err("out of memory");
		errno = ENOMEM;
		return NULL;
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		r = -errno;
		set_open_err("socket: %s", strerror(-r));
		goto fail;
	}
	while ((r = connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) < 0 && errno == EINTR)
		;
	if (r < 0) {
		r = -errno;
		set_open_err("cannot connect to the agent at %s: %s", path, strerror(-r));
		goto fail;
	}
	if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0) {
		r = -errno;
		set_open_err("fcntl: %s", strerror(-r));
		goto fail;
	}
	r = workload ? sendf(c, "HELLO version=%d workload=%s", MXC_PROTOCOL_VERSION, workload)
		     : sendf(c, "HELLO version=%d", MXC_PROTOCOL_VERSION);
	if (r > 0) {
		/* cannot happen for one short line on a fresh socket */
		r = -EAGAIN;
	}
	if (r < 0) {
		set_open_err("cannot send HELLO: %s", strerror(-r));
		goto fail;
	}
	r = handshake(c, timeout_ms);
	if (r < 0)
		goto fail;
	return c;
fail:
	if (c->fd >= 0)
		close(c->fd);
	free(c->obuf);
	free(c);
	errno = -r;
	return NULL;
}

struct mxc *mxc_open(const char *path, const char *workload)
{
	return mxc_open_timeout(path, workload, 5000);
}

int mxc_fd(const struct mxc *c)
{
	return c ? c->fd : -EINVAL;
}

const char *mxc_workload(const struct mxc *c)
{
	return c->workload;
}

const char *mxc_cgroup(const struct mxc *c)
{
	return c->cgroup;
}

uint64_t mxc_skipped(const struct mxc *c)
{
	return c->skipped;
}

int mxc_subscribe(struct mxc *c, unsigned int interval_ms)
{
	if (!c)
		return -EINVAL;
	if (interval_ms)
		return sendf(c, "SUBSCRIBE interval_ms=%u", interval_ms);
	return sendf(c, "SUBSCRIBE");
}

int mxc_freed(struct mxc *c, uint64_t id, uint64_t bytes)
{
	if (!c)
		return -EINVAL;
	return sendf(c, "FREED id=%llu bytes=%llu", (unsigned long long)id,
		     (unsigned long long)bytes);
}

int mxc_report_metric(struct mxc *c, const char *name, double value)
{
	if (!c || !name_ok(name) || !isfinite(value))
		return -EINVAL;
	return sendf(c, "METRIC name=%s value=%.9g", name, value);
}

void mxc_close(struct mxc *c)
{
	if (!c)
		return;
	if (!c->err) {
		sendf(c, "BYE");
	}
	close(c->fd);
	free(c->obuf);
	free(c);
}
