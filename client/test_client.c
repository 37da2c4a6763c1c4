// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Host unit tests of the client library against a real Unix-socket peer
 * played by the test (a thread accepts, answers HELLO, then hands the
 * connection to the test body). Prints PASS/FAIL unit:client_<name>.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "memcg_ext/client.h"
#include "test_harness.h"


/* ---- the peer ---- */

struct peer {
	pthread_t th;
	const char *answer;	/* line to send after HELLO (NULL: none) */
	int delay_ms;		/* before answering */
	int fd;			/* accepted connection */
	char hello[MXC_LINE_MAX + 1];
};

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Read one line from fd (blocking), without '\n'. */
static int read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		char ch;
		ssize_t r = read(fd, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (ch == '\n') {
			buf[n] = 0;
			return (int)n;
		}
		buf[n++] = ch;
	}
	return -1;
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;

	p->fd = accept(lfd, NULL, NULL);
	if (p->fd < 0)
		return NULL;
	if (read_line(p->fd, p->hello, sizeof(p->hello)) < 0)
		return NULL;
	if (p->delay_ms)
		msleep(p->delay_ms);
	if (p->answer)
		dprintf(p->fd, "%s\n", p->answer);
	return NULL;
}

static void peer_start(struct peer *p, const char *answer, int delay_ms)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->answer = answer;
	p->delay_ms = delay_ms;
	pthread_create(&p->th, NULL, peer_main, p);
}

static void peer_join(struct peer *p)
{
	pthread_join(p->th, NULL);
}

static void peer_close(struct peer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static void peer_send(struct peer *p, const char *s)
{
	size_t n = strlen(s);

	if (write(p->fd, s, n) != (ssize_t)n)
		perror("peer write");
}

/* Connected client + peer with a WELCOME exchanged. */
static struct mxc *connect_ok(struct peer *p, const char *workload)
{
	struct mxc *c;

	peer_start(p, "WELCOME version=1 workload=svc cgroup=/sys/fs/cgroup/svc", 0);
	c = mxc_open(sockpath, workload);
	peer_join(p);
	return c;
}

/* ---- tests ---- */

static void t_hello_default(void)
{
	struct peer p;
	struct mxc *c = connect_ok(&p, NULL);

	CHECK(c, "open: %s", mxc_open_error());
	CHECK(!strcmp(p.hello, "HELLO version=1"), "hello '%s'", p.hello);
	CHECK(!strcmp(mxc_workload(c), "svc"), "workload '%s'", mxc_workload(c));
	CHECK(!strcmp(mxc_cgroup(c), "/sys/fs/cgroup/svc"), "cgroup '%s'", mxc_cgroup(c));
	CHECK(mxc_fd(c) >= 0, "fd");
out:
	mxc_close(c);
	peer_close(&p);
}

static void t_hello_workload(void)
{
	struct peer p;
	struct mxc *c = connect_ok(&p, "web-1");

	CHECK(c, "open: %s", mxc_open_error());
	CHECK(!strcmp(p.hello, "HELLO version=1 workload=web-1"), "hello '%s'", p.hello);
out:
	mxc_close(c);
	peer_close(&p);
}

static void t_env_socket(void)
{
	struct peer p;
	struct mxc *c;

	setenv(MXC_SOCK_ENV, sockpath, 1);
	peer_start(&p, "WELCOME version=1 workload=a cgroup=/a", 0);
	c = mxc_open(NULL, NULL);
	peer_join(&p);
	unsetenv(MXC_SOCK_ENV);
	CHECK(c, "open via $%s: %s", MXC_SOCK_ENV, mxc_open_error());
out:
	mxc_close(c);
	peer_close(&p);
}

static void t_bad_args(void)
{
	struct mxc *c = mxc_open(sockpath, "has space");

	CHECK(!c && errno == EINVAL, "workload with a space accepted");
	c = mxc_open(sockpath, "a=b");
	CHECK(!c && errno == EINVAL, "workload with '=' accepted");
out:
	mxc_close(c);
}

static void t_err_no_workload(void)
{
	struct peer p;
	struct mxc *c;

	peer_start(&p, "ERR code=no-workload msg=pid_42_is_in_no_workload", 0);
	c = mxc_open(sockpath, NULL);
	peer_join(&p);
	CHECK(!c, "open succeeded on ERR");
	CHECK(errno == ESRCH, "errno %d", errno);
	CHECK(strstr(mxc_open_error(), "no-workload") &&
	      strstr(mxc_open_error(), "pid_42"), "message '%s'", mxc_open_error());
out:
	mxc_close(c);
	peer_close(&p);
}

static void t_err_bad_version(void)
{
	struct peer p;
	struct mxc *c;

	peer_start(&p, "ERR code=bad-version msg=want_2", 0);
	c = mxc_open(sockpath, NULL);
	peer_join(&p);
	CHECK(!c && errno == EPROTONOSUPPORT, "errno %d", errno);
	peer_close(&p);
	peer_start(&p, "WELCOME version=7", 0);
	c = mxc_open(sockpath, NULL);
	peer_join(&p);
	CHECK(!c && errno == EPROTO, "WELCOME version=7: errno %d", errno);
out:
	mxc_close(c);
	peer_close(&p);
}

static void t_no_agent(void)
{
	char path[160];
	struct mxc *c;

	snprintf(path, sizeof(path), "%s/nothing.sock", dir);
	c = mxc_open(path, NULL);
	CHECK(!c && errno == ENOENT, "errno %d", errno);
	CHECK(strstr(mxc_open_error(), "cannot connect"), "message '%s'", mxc_open_error());
out:
	mxc_close(c);
}

static void t_timeout(void)
{
	struct peer p;
	struct mxc *c;

	peer_start(&p, NULL, 0);
	c = mxc_open_timeout(sockpath, NULL, 200);
	peer_join(&p);
	CHECK(!c && errno == ETIMEDOUT, "errno %d", errno);
out:
	mxc_close(c);
	peer_close(&p);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Signals during the handshake wait (EINTR) do not break it. */
static void t_eintr(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval it = { { 0, 20000 }, { 0, 20000 } };
	struct itimerval off = { 0 };
	struct peer p;
	struct mxc *c;

	sigaction(SIGALRM, &sa, NULL);
	/* the peer thread blocks SIGALRM so that the main thread gets it */
	sigset_t set, old;

	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	peer_start(&p, "WELCOME version=1 workload=w cgroup=/w", 150);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	c = mxc_open(sockpath, NULL);
	setitimer(ITIMER_REAL, &off, NULL);
	peer_join(&p);
	CHECK(c, "open with signals: %s", mxc_open_error());
out:
	signal(SIGALRM, SIG_DFL);
	mxc_close(c);
	peer_close(&p);
}

static void t_partial_lines(void)
{
	struct peer p;
	struct mxc_event ev;
	struct mxc *c = connect_ok(&p, NULL);

	CHECK(c, "open");
	CHECK(mxc_next_event(c, &ev) == 0, "event before any data");
	peer_send(&p, "HEADROOM usa");
	CHECK(mxc_next_event(c, &ev) == 0, "event from half a line");
	peer_send(&p, "ge=1048576 t1=4096 t2=-8192 t3=max max=max\nPRESS");
	CHECK(mxc_next_event(c, &ev) == 1, "no headroom event");
	CHECK(ev.type == MXC_EV_HEADROOM, "type %d", ev.type);
	CHECK(ev.headroom.usage == 1048576 && ev.headroom.t1 == 4096 &&
	      ev.headroom.t2 == -8192 && ev.headroom.t3 == MXC_UNLIMITED &&
	      ev.headroom.max == MXC_UNLIMITED, "values %lld %lld %lld",
	      (long long)ev.headroom.usage, (long long)ev.headroom.t1,
	      (long long)ev.headroom.t2);
	CHECK(mxc_next_event(c, &ev) == 0, "event from a partial PRESSURE");
	/* byte by byte */
	const char *rest = "URE level=medium value=0.5 psi_some_avg10=12.25\n";

	for (const char *s = rest; *s; s++) {
		char b[2] = { *s, 0 };

		CHECK(mxc_next_event(c, &ev) == 0, "early event at byte %zu", (size_t)(s - rest));
		peer_send(&p, b);
	}
	CHECK(mxc_next_event(c, &ev) == 1, "no pressure event");
	CHECK(ev.type == MXC_EV_PRESSURE && ev.pressure.level == MXC_LEVEL_MEDIUM &&
	      ev.pressure.value == 0.5 && ev.pressure.psi_some_avg10 == 12.25, "pressure");
	/* several lines in one read, and CRLF */
	peer_send(&p, "SHED id=7 bytes=1000 deadline_ms=500 level=high\r\nKILL_NOTICE deadline_ms=3000\n");
	CHECK(mxc_next_event(c, &ev) == 1 && ev.type == MXC_EV_SHED, "no shed");
	CHECK(ev.shed.id == 7 && ev.shed.bytes == 1000 && ev.shed.deadline_ms == 500 &&
	      ev.shed.level == MXC_LEVEL_HIGH, "shed values");
	CHECK(mxc_next_event(c, &ev) == 1 && ev.type == MXC_EV_KILL_NOTICE &&
	      ev.kill_notice.deadline_ms == 3000, "no kill notice");
	CHECK(mxc_next_event(c, &ev) == 0, "extra event");
	CHECK(mxc_skipped(c) == 0, "skipped %llu", (unsigned long long)mxc_skipped(c));
out:
	mxc_close(c);
	peer_close(&p);
}

/* A line of exactly `len` bytes with the '\n'. */
static char *line_of(const char *head, size_t len)
{
	char *s = malloc(len + 1);
	size_t h = strlen(head);

	memcpy(s, head, h);
	memcpy(s + h, " pad=", 5);
	memset(s + h + 5, 'x', len - h - 6);
	s[len - 1] = '\n';
	s[len] = 0;
	return s;
}

static void t_long_lines(void)
{
	struct peer p;
	struct mxc_event ev;
	struct mxc *c = connect_ok(&p, NULL);
	char *max = line_of("SHED id=1 bytes=1", MXC_LINE_MAX);
	char *over = line_of("SHED id=2 bytes=2", MXC_LINE_MAX + 1);
	char *huge = line_of("SHED id=3 bytes=3", 10 * MXC_LINE_MAX);

	CHECK(c, "open");
	peer_send(&p, max);
	CHECK(mxc_next_event(c, &ev) == 1 && ev.shed.id == 1, "a %d-byte line was refused", MXC_LINE_MAX);
	peer_send(&p, over);
	peer_send(&p, huge);
	peer_send(&p, "SHED id=4 bytes=4\n");
	CHECK(mxc_next_event(c, &ev) == 1, "nothing after the long lines");
	CHECK(ev.type == MXC_EV_SHED && ev.shed.id == 4, "got id %llu, want 4",
	      (unsigned long long)ev.shed.id);
	CHECK(mxc_skipped(c) == 2, "skipped %llu, want 2", (unsigned long long)mxc_skipped(c));
	/* an overlong line split over many reads */
	peer_send(&p, "SHED id=5 bytes=5 pad=");
	for (int i = 0; i < 3; i++) {
		char chunk[700];

		memset(chunk, 'y', sizeof(chunk) - 1);
		chunk[sizeof(chunk) - 1] = 0;
		peer_send(&p, chunk);
		CHECK(mxc_next_event(c, &ev) == 0, "event from an overlong fragment");
	}
	peer_send(&p, "zz\nSHED id=6 bytes=6\n");
	CHECK(mxc_next_event(c, &ev) == 1 && ev.shed.id == 6, "after split overlong: id %llu",
	      (unsigned long long)ev.shed.id);
	CHECK(mxc_skipped(c) == 3, "skipped %llu, want 3", (unsigned long long)mxc_skipped(c));
out:
	free(max);
	free(over);
	free(huge);
	mxc_close(c);
	peer_close(&p);
}

static void t_unknown_ignored(void)
{
	struct peer p;
	struct mxc_event ev;
	struct mxc *c = connect_ok(&p, NULL);

	CHECK(c, "open");
	peer_send(&p, "FROBNICATE x=1\nSHED id=9 bytes=4096 colour=blue deadline_ms=10\n"
		      "PRESSURE level=apocalyptic value=1\nWELCOME version=1 workload=svc2 cgroup=/x\n");
	CHECK(mxc_next_event(c, &ev) == 1 && ev.type == MXC_EV_SHED && ev.shed.id == 9 &&
	      ev.shed.deadline_ms == 10 && ev.shed.level == MXC_LEVEL_UNKNOWN, "shed with an unknown key");
	CHECK(mxc_next_event(c, &ev) == 1 && ev.type == MXC_EV_PRESSURE &&
	      ev.pressure.level == MXC_LEVEL_UNKNOWN && isnan(ev.pressure.psi_some_avg10),
	      "unknown level");
	CHECK(mxc_next_event(c, &ev) == 0, "event from WELCOME");
	CHECK(!strcmp(mxc_workload(c), "svc2"), "WELCOME not taken");
	CHECK(mxc_skipped(c) == 1, "skipped %llu, want 1", (unsigned long long)mxc_skipped(c));
out:
	mxc_close(c);
	peer_close(&p);
}

static void t_malformed(void)
{
	struct peer p;
	struct mxc_event ev;
	struct mxc *c = connect_ok(&p, NULL);
	static const char nul_line[] = "SHED id=1\0 bytes=2\n";

	CHECK(c, "open");
	peer_send(&p, "SHED id=abc bytes=1\nSHED bytes=1\nshed id=1 bytes=1\nHEADROOM\n"
		      "HEADROOM usage=-1\nSHED id=1 bytes=1 junk\nSHED id=-1 bytes=1\n\n"
		      "HEADROOM usage=5 t1=zz\nPRESSURE value=1\n");
	CHECK(write(p.fd, nul_line, sizeof(nul_line) - 1) == sizeof(nul_line) - 1, "write");
	peer_send(&p, "ERR code=unknown-verb msg=FOO_is_not_a_verb\n");
	CHECK(mxc_next_event(c, &ev) == 1, "no event after the bad lines");
	CHECK(ev.type == MXC_EV_ERROR && !strcmp(ev.error.code, "unknown-verb") &&
	      !strcmp(ev.error.msg, "FOO_is_not_a_verb"), "type %d", ev.type);
	CHECK(mxc_skipped(c) == 11, "skipped %llu, want 11", (unsigned long long)mxc_skipped(c));
out:
	mxc_close(c);
	peer_close(&p);
}

static void t_outgoing(void)
{
	struct peer p;
	struct mxc *c = connect_ok(&p, NULL);
	char line[MXC_LINE_MAX + 1];

	CHECK(c, "open");
	CHECK(mxc_subscribe(c, 250) == 0, "subscribe");
	CHECK(mxc_subscribe(c, 0) == 0, "subscribe 0");
	CHECK(mxc_freed(c, 12, 1 << 20) == 0, "freed");
	CHECK(mxc_report_metric(c, "ops_per_s", 1234.5) == 0, "metric");
	CHECK(mxc_report_metric(c, "bad name", 1) == -EINVAL, "name with a space");
	CHECK(mxc_report_metric(c, "", 1) == -EINVAL, "empty name");
	CHECK(mxc_report_metric(c, "x=y", 1) == -EINVAL, "name with '='");
	CHECK(mxc_report_metric(c, "nan", NAN) == -EINVAL, "NaN value");
	CHECK(mxc_report_metric(c, "inf", INFINITY) == -EINVAL, "infinite value");
	CHECK(!mxc_want_write(c), "output left");
	const char *want[] = { "SUBSCRIBE interval_ms=250", "SUBSCRIBE", "FREED id=12 bytes=1048576",
			       "METRIC name=ops_per_s value=1234.5" };

	for (int i = 0; i < 4; i++) {
		CHECK(read_line(p.fd, line, sizeof(line)) >= 0, "peer read %d", i);
		CHECK(!strcmp(line, want[i]), "got '%s', want '%s'", line, want[i]);
	}
	mxc_close(c);
	c = NULL;
	CHECK(read_line(p.fd, line, sizeof(line)) >= 0 && !strcmp(line, "BYE"), "no BYE");
out:
	mxc_close(c);
	peer_close(&p);
}

/* The agent stops reading: output is queued, then -ENOBUFS; it drains. */
static void t_backpressure(void)
{
	struct peer p;
	struct mxc *c = connect_ok(&p, NULL);
	int sz = 4096, i, r = 0;
	char line[MXC_LINE_MAX + 1];

	CHECK(c, "open");
	setsockopt(mxc_fd(c), SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	for (i = 0; i < 100000; i++) {
		r = mxc_report_metric(c, "m", i);
		if (r)
			break;
	}
	CHECK(r == -ENOBUFS, "r %d after %d lines", r, i);
	CHECK(mxc_want_write(c), "nothing queued");
	for (int k = 0; k < i; k++) {
		char want[64];

		mxc_flush(c);	/* the client's event loop would on EPOLLOUT */
		snprintf(want, sizeof(want), "METRIC name=m value=%d", k);
		CHECK(read_line(p.fd, line, sizeof(line)) >= 0, "peer read %d", k);
		CHECK(!strcmp(line, want), "line %d: '%s'", k, line);
	}
	CHECK(mxc_flush(c) == 0 && !mxc_want_write(c), "not drained");
out:
	mxc_close(c);
	peer_close(&p);
}

static void t_agent_gone(void)
{
	struct peer p;
	struct mxc_event ev;
	struct mxc *c = connect_ok(&p, NULL);

	CHECK(c, "open");
	peer_send(&p, "SHED id=1 bytes=1\nSHED id=2 bytes=2\nSHED id=3 by");
	peer_close(&p);
	CHECK(mxc_next_event(c, &ev) == 1 && ev.shed.id == 1, "first line lost");
	CHECK(mxc_next_event(c, &ev) == 1 && ev.shed.id == 2, "second line lost");
	CHECK(mxc_next_event(c, &ev) == -EPIPE, "no -EPIPE");
	CHECK(mxc_next_event(c, &ev) == -EPIPE, "error not sticky");
	CHECK(mxc_freed(c, 1, 1) == -EPIPE, "freed after close");
out:
	mxc_close(c);
	peer_close(&p);
}

static void t_epoll(void)
{
	struct peer p;
	struct mxc_event ev;
	struct epoll_event ee = { .events = EPOLLIN }, got;
	struct mxc *c = connect_ok(&p, NULL);
	int ep = epoll_create1(0);

	CHECK(c, "open");
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, mxc_fd(c), &ee) == 0, "epoll_ctl");
	CHECK(epoll_wait(ep, &got, 1, 0) == 0, "readable before data");
	peer_send(&p, "HEADROOM usage=1 t1=2 t2=3 t3=4 max=5\n");
	CHECK(epoll_wait(ep, &got, 1, 1000) == 1 && (got.events & EPOLLIN), "not readable");
	CHECK(mxc_next_event(c, &ev) == 1 && ev.headroom.max == 5, "event");
	CHECK(epoll_wait(ep, &got, 1, 0) == 0, "still readable after the event");
	peer_close(&p);
	CHECK(epoll_wait(ep, &got, 1, 1000) == 1, "close not seen");
	CHECK(mxc_next_event(c, &ev) == -EPIPE, "no -EPIPE");
out:
	close(ep);
	mxc_close(c);
	peer_close(&p);
}

static void t_levels(void)
{
	CHECK(mxc_level_parse("critical") == MXC_LEVEL_CRITICAL, "critical");
	CHECK(mxc_level_parse("none") == MXC_LEVEL_NONE, "none");
	CHECK(mxc_level_parse("NONE") == MXC_LEVEL_UNKNOWN, "case");
	CHECK(!strcmp(mxc_level_name(MXC_LEVEL_LOW), "low"), "name");
	CHECK(!strcmp(mxc_level_name(MXC_LEVEL_UNKNOWN), "unknown"), "unknown name");
out:
	;
}

int main(void)
{
	if (harness_listen("/tmp/mxc-test.XXXXXX", "agent.sock"))
		return 1;
	run("hello_default", t_hello_default);
	run("hello_workload", t_hello_workload);
	run("env_socket", t_env_socket);
	run("bad_args", t_bad_args);
	run("err_no_workload", t_err_no_workload);
	run("err_bad_version", t_err_bad_version);
	run("no_agent", t_no_agent);
	run("timeout", t_timeout);
	run("eintr", t_eintr);
	run("partial_lines", t_partial_lines);
	run("long_lines", t_long_lines);
	run("unknown_ignored", t_unknown_ignored);
	run("malformed", t_malformed);
	run("outgoing", t_outgoing);
	run("backpressure", t_backpressure);
	run("agent_gone", t_agent_gone);
	run("epoll", t_epoll);
	run("levels", t_levels);
	return harness_done("client");
}
