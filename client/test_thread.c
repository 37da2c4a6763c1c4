// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Host unit tests of the thread word (include/memcg_ext/thread.h): the
 * registration lines against a tiny Unix-socket server played by a test
 * thread, the error paths, cs_depth nesting and the mutex wrappers, the
 * class. Prints PASS/FAIL unit:client_<name>.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "memcg_ext/thread.h"
#include "test_harness.h"


static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* ---- the server: accepts one connection, reads one line, answers ---- */

struct server {
	pthread_t th;
	const char *answer;	/* NULL: send nothing */
	int delay_ms;		/* before answering */
	int hold_ms;		/* keep the connection open this long after answering */
	char line[1100];	/* what arrived, up to and including '\n' */
	int got_newline;
};

static void *server_main(void *arg)
{
	struct server *s = arg;
	size_t n = 0;
	int fd;

	while ((fd = accept(lfd, NULL, NULL)) < 0 && errno == EINTR)
		;
	if (fd < 0)
		return NULL;
	while (n + 1 < sizeof(s->line)) {
		ssize_t r = read(fd, s->line + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (s->line[n++] == '\n') {
			s->got_newline = 1;
			break;
		}
	}
	s->line[n] = 0;
	if (s->delay_ms)
		msleep(s->delay_ms);
	if (s->answer && write(fd, s->answer, strlen(s->answer)) < 0)
		perror("server write");
	if (s->hold_ms)
		msleep(s->hold_ms);
	close(fd);
	return NULL;
}

static void server_start(struct server *s, const char *answer)
{
	sigset_t alrm, old;

	/* SIGALRM (t_eintr) must interrupt the client, not the server */
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, &old);
	s->answer = answer;
	pthread_create(&s->th, NULL, server_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void server_join(struct server *s)
{
	pthread_join(s->th, NULL);
}

static void expect_register_line(const char *line, pid_t t, const void *word, int *ok)
{
	char want[64];

	snprintf(want, sizeof(want), "REGISTER %d 0x%" PRIxPTR "\n", (int)t, (uintptr_t)word);
	*ok = !strcmp(line, want);
	if (!*ok)
		printf("  got '%s', want '%s'\n", line, want);
}

/* ---- tests ---- */

static void t_layout(void)
{
	struct mx_thread_word *w = mx_thread_word_addr();

	CHECK(sizeof(struct mx_thread_word) == 8, "size %zu", sizeof(struct mx_thread_word));
	CHECK(_Alignof(struct mx_thread_word) == 8, "align");
	CHECK(w == &mx_thread_tls_word, "address");
	CHECK(((uintptr_t)w & 7) == 0, "word at %p not 8-byte aligned", (void *)w);
	CHECK(w->cs_depth == 0 && w->thread_class == MX_CLASS_UNSET, "fresh word not zero");
out:
	;
}

static void t_register_ok(void)
{
	struct server s = { 0 };
	int r, ok;

	server_start(&s, "OK\n");
	r = mx_thread_register(sockpath);
	server_join(&s);
	CHECK(r == 0, "r=%d (%s)", r, mx_thread_error());
	CHECK(!strcmp(mx_thread_error(), ""), "error '%s' after success", mx_thread_error());
	CHECK(s.got_newline, "no newline in '%s'", s.line);
	expect_register_line(s.line, tid(), &mx_thread_tls_word, &ok);
	CHECK(ok, "line format");
out:
	;
}

/* Registered from another thread: its own tid and its own word. */
struct other {
	int r;
	pid_t tid;
	void *word;
	char err[256];
};

static void *other_main(void *arg)
{
	struct other *o = arg;

	o->tid = tid();
	o->word = mx_thread_word_addr();
	o->r = mx_thread_register(sockpath);
	snprintf(o->err, sizeof(o->err), "%s", mx_thread_error());
	return NULL;
}

static void t_register_other_thread(void)
{
	struct server s = { 0 };
	struct other o = { 0 };
	pthread_t th;
	int ok;

	server_start(&s, "OK\n");
	pthread_create(&th, NULL, other_main, &o);
	pthread_join(th, NULL);
	server_join(&s);
	CHECK(o.r == 0, "r=%d (%s)", o.r, o.err);
	CHECK(o.tid != getpid(), "worker tid == pid");
	CHECK(o.word != (void *)&mx_thread_tls_word, "worker shares the main thread's word");
	CHECK(((uintptr_t)o.word & 7) == 0, "worker word %p not aligned", o.word);
	expect_register_line(s.line, o.tid, o.word, &ok);
	CHECK(ok, "line format");
out:
	;
}

static void t_register_err(void)
{
	struct server s = { 0 };
	int r;

	server_start(&s, "ERR not a thread of the caller\n");
	r = mx_thread_register(sockpath);
	server_join(&s);
	CHECK(r == -EPERM, "r=%d", r);
	CHECK(strstr(mx_thread_error(), "not a thread of the caller"), "error '%s'",
	      mx_thread_error());
	/* a success afterwards clears the message */
	server_start(&s, "OK\n");
	r = mx_thread_register(sockpath);
	server_join(&s);
	CHECK(r == 0 && !*mx_thread_error(), "r=%d '%s'", r, mx_thread_error());
out:
	;
}

static void t_err_no_reason(void)
{
	struct server s = { 0 };
	int r;

	server_start(&s, "ERR\n");
	r = mx_thread_register(sockpath);
	server_join(&s);
	CHECK(r == -EPERM, "r=%d", r);
	CHECK(strstr(mx_thread_error(), "no reason"), "error '%s'", mx_thread_error());
out:
	;
}

static void t_unregister(void)
{
	struct server s = { 0 };
	char want[32];
	int r;

	server_start(&s, "OK\n");
	r = mx_thread_unregister(sockpath);
	server_join(&s);
	CHECK(r == 0, "r=%d (%s)", r, mx_thread_error());
	snprintf(want, sizeof(want), "UNREGISTER %d\n", (int)tid());
	CHECK(!strcmp(s.line, want), "got '%s', want '%s'", s.line, want);
	server_start(&s, "ERR not registered\n");
	r = mx_thread_unregister(sockpath);
	server_join(&s);
	CHECK(r == -EPERM, "r=%d", r);
	CHECK(strstr(mx_thread_error(), "UNREGISTER") &&
	      strstr(mx_thread_error(), "not registered"), "error '%s'", mx_thread_error());
out:
	;
}

static void t_no_server(void)
{
	char path[160];
	int r;

	snprintf(path, sizeof(path), "%s/absent.sock", dir);
	r = mx_thread_register(path);
	CHECK(r == -ENOENT, "r=%d", r);
	CHECK(strstr(mx_thread_error(), path), "error '%s' does not name the path",
	      mx_thread_error());
out:
	;
}

/* A socket file nobody listens on: ECONNREFUSED. */
static void t_refused(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), r;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/dead.sock", dir);
	CHECK(fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)), "bind: %s",
	      strerror(errno));
	close(fd);
	fd = -1;
	r = mx_thread_register(sa.sun_path);
	unlink(sa.sun_path);
	CHECK(r == -ECONNREFUSED, "r=%d", r);
	CHECK(*mx_thread_error(), "no error message");
out:
	if (fd >= 0)
		close(fd);
}

static void t_default_path(void)
{
	struct stat st;
	int r;

	if (!stat(MX_PRIO_DEFAULT_SOCK, &st)) {
		printf("  %s exists on this host: only the message is checked\n",
		       MX_PRIO_DEFAULT_SOCK);
		goto out;
	}
	r = mx_thread_register(NULL);
	CHECK(r == -ENOENT, "r=%d", r);
	CHECK(strstr(mx_thread_error(), MX_PRIO_DEFAULT_SOCK), "error '%s'", mx_thread_error());
	r = mx_thread_unregister("");
	CHECK(r == -ENOENT, "r=%d", r);
out:
	;
}

static void t_long_path(void)
{
	char path[300];
	int r;

	memset(path, 'x', sizeof(path) - 1);
	path[sizeof(path) - 1] = 0;
	r = mx_thread_register(path);
	CHECK(r == -ENAMETOOLONG, "r=%d", r);
	CHECK(*mx_thread_error(), "no error message");
out:
	;
}

static void t_timeout(void)
{
	struct server s = { .hold_ms = 2600 };
	int64_t t0 = now_ms(), dt;
	int r;

	server_start(&s, NULL);
	r = mx_thread_register(sockpath);
	dt = now_ms() - t0;
	server_join(&s);
	CHECK(r == -ETIMEDOUT, "r=%d", r);
	CHECK(dt >= MX_PRIO_TIMEOUT_MS - 50 && dt < MX_PRIO_TIMEOUT_MS + 500,
	      "returned after %" PRId64 " ms", dt);
	CHECK(strstr(mx_thread_error(), "no answer"), "error '%s'", mx_thread_error());
out:
	;
}

static void t_closed(void)
{
	struct server s = { 0 };
	int r;

	server_start(&s, NULL);
	r = mx_thread_register(sockpath);
	server_join(&s);
	CHECK(r == -ECONNRESET, "r=%d", r);
	CHECK(strstr(mx_thread_error(), "without answering"), "error '%s'", mx_thread_error());
out:
	;
}

static void t_garbage(void)
{
	struct server s = { 0 };
	int r;

	server_start(&s, "WELCOME version=1\n");
	r = mx_thread_register(sockpath);
	server_join(&s);
	CHECK(r == -EPROTO, "r=%d", r);
	CHECK(strstr(mx_thread_error(), "WELCOME"), "error '%s'", mx_thread_error());
	/* "OKAY" is not "OK" */
	server_start(&s, "OKAY\n");
	r = mx_thread_register(sockpath);
	server_join(&s);
	CHECK(r == -EPROTO, "r=%d", r);
out:
	;
}

/* The answer in pieces, with CRLF, arriving late: still one line. */
static void t_slow_crlf(void)
{
	struct server s = { .delay_ms = 300 };
	int r;

	server_start(&s, "OK\r\n");
	r = mx_thread_register(sockpath);
	server_join(&s);
	CHECK(r == 0, "r=%d (%s)", r, mx_thread_error());
out:
	;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A signal while waiting for the answer does not end the wait. */
static void t_eintr(void)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;	/* no SA_RESTART */
	struct itimerval it = { .it_value = { 0, 100000 } };
	struct server s = { .delay_ms = 400 };
	int r;

	sigaction(SIGALRM, &sa, &old);
	server_start(&s, "OK\n");
	setitimer(ITIMER_REAL, &it, NULL);
	r = mx_thread_register(sockpath);
	server_join(&s);
	sigaction(SIGALRM, &old, NULL);
	CHECK(r == 0, "r=%d (%s)", r, mx_thread_error());
out:
	;
}

/* An overlong answer without '\n' is refused, not overflowed. */
static void t_long_answer(void)
{
	static char big[3000];
	struct server s = { 0 };
	int r;

	memset(big, 'A', sizeof(big) - 1);
	server_start(&s, big);
	r = mx_thread_register(sockpath);
	server_join(&s);
	CHECK(r == -EPROTO, "r=%d", r);
	CHECK(strstr(mx_thread_error(), "longer"), "error '%s'", mx_thread_error());
out:
	;
}

static void t_cs_nesting(void)
{
	CHECK(mx_cs_depth() == 0, "start %u", mx_cs_depth());
	mx_cs_enter();
	CHECK(mx_cs_depth() == 1 && mx_thread_tls_word.cs_depth == 1, "depth %u", mx_cs_depth());
	mx_cs_enter();
	mx_cs_enter();
	CHECK(mx_cs_depth() == 3, "depth %u", mx_cs_depth());
	mx_cs_leave();
	CHECK(mx_cs_depth() == 2, "depth %u", mx_cs_depth());
	mx_cs_leave();
	mx_cs_leave();
	CHECK(mx_cs_depth() == 0, "depth %u", mx_cs_depth());
	/* unbalanced leave: stays 0, does not wrap */
	mx_cs_leave();
	CHECK(mx_cs_depth() == 0, "depth %u after an unbalanced leave", mx_cs_depth());
out:
	while (mx_cs_depth())
		mx_cs_leave();
}

static void t_mutex(void)
{
	pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_t e;
	pthread_mutexattr_t at;
	int held_a = 0, held_e = 0;

	pthread_mutexattr_init(&at);
	pthread_mutexattr_settype(&at, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&e, &at);
	pthread_mutexattr_destroy(&at);

	CHECK(mx_mutex_lock(&a) == 0, "lock a");
	held_a = 1;
	CHECK(mx_cs_depth() == 1, "depth %u", mx_cs_depth());
	CHECK(mx_mutex_lock(&e) == 0, "lock e");
	held_e = 1;
	CHECK(mx_cs_depth() == 2, "depth %u", mx_cs_depth());
	/* relocking an error-checking mutex fails: depth unchanged */
	CHECK(mx_mutex_lock(&e) == EDEADLK, "relock e");
	CHECK(mx_cs_depth() == 2, "depth %u after a failed lock", mx_cs_depth());
	CHECK(mx_mutex_trylock(&e) == EBUSY, "trylock e");
	CHECK(mx_cs_depth() == 2, "depth %u after a failed trylock", mx_cs_depth());
	CHECK(mx_mutex_unlock(&e) == 0, "unlock e");
	held_e = 0;
	CHECK(mx_cs_depth() == 1, "depth %u", mx_cs_depth());
	/* unlocking a mutex this thread does not own fails: depth unchanged */
	CHECK(mx_mutex_unlock(&e) == EPERM, "unlock e again");
	CHECK(mx_cs_depth() == 1, "depth %u after a failed unlock", mx_cs_depth());
	CHECK(mx_mutex_trylock(&e) == 0, "trylock e");
	held_e = 1;
	CHECK(mx_cs_depth() == 2, "depth %u", mx_cs_depth());
	CHECK(mx_mutex_unlock(&e) == 0, "unlock e");
	held_e = 0;
	CHECK(mx_mutex_unlock(&a) == 0, "unlock a");
	held_a = 0;
	CHECK(mx_cs_depth() == 0, "depth %u", mx_cs_depth());
out:
	if (held_e)
		pthread_mutex_unlock(&e);
	if (held_a)
		pthread_mutex_unlock(&a);
	while (mx_cs_depth())
		mx_cs_leave();
	pthread_mutex_destroy(&e);
}

static void t_class(void)
{
	static const enum mx_thread_class all[] = {
		MX_CLASS_NORMAL, MX_CLASS_NEVER, MX_CLASS_FIRST, MX_CLASS_UNSET,
	};

	CHECK(MX_CLASS_UNSET == 0 && MX_CLASS_NORMAL == 1 && MX_CLASS_NEVER == 2 &&
	      MX_CLASS_FIRST == 3, "enum values");
	CHECK(mx_thread_get_class() == MX_CLASS_UNSET, "start %d", mx_thread_get_class());
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		mx_thread_set_class(all[i]);
		CHECK(mx_thread_get_class() == all[i], "get %d after set %d",
		      mx_thread_get_class(), all[i]);
		CHECK(mx_thread_tls_word.thread_class == (uint32_t)all[i], "word %u",
		      mx_thread_tls_word.thread_class);
		CHECK(mx_thread_tls_word.cs_depth == 0, "class store touched cs_depth");
	}
out:
	mx_thread_set_class(MX_CLASS_UNSET);
}

/* Each thread has its own word and its own error message. */
struct iso {
	unsigned int depth;
	enum mx_thread_class cl;
	char err[256];
};

static void *iso_main(void *arg)
{
	struct iso *o = arg;

	o->depth = mx_cs_depth();
	o->cl = mx_thread_get_class();
	snprintf(o->err, sizeof(o->err), "%s", mx_thread_error());
	mx_cs_enter();
	mx_thread_set_class(MX_CLASS_NEVER);
	return NULL;
}

static void t_per_thread(void)
{
	struct iso o = { 0 };
	pthread_t th;

	mx_cs_enter();
	mx_thread_set_class(MX_CLASS_FIRST);
	mx_thread_register("/nonexistent/prio.sock");	/* sets this thread's error */
	pthread_create(&th, NULL, iso_main, &o);
	pthread_join(th, NULL);
	CHECK(o.depth == 0 && o.cl == MX_CLASS_UNSET, "new thread sees depth %u class %d",
	      o.depth, o.cl);
	CHECK(!*o.err, "new thread sees error '%s'", o.err);
	CHECK(*mx_thread_error(), "this thread lost its error");
	CHECK(mx_cs_depth() == 1 && mx_thread_get_class() == MX_CLASS_FIRST,
	      "the other thread changed this one's word");
out:
	mx_cs_leave();
	mx_thread_set_class(MX_CLASS_UNSET);
}

int main(void)
{
	if (harness_listen("/tmp/mxt-test.XXXXXX", "prio.sock"))
		return 1;
	run("thread_layout", t_layout);
	run("thread_register_ok", t_register_ok);
	run("thread_register_other_thread", t_register_other_thread);
	run("thread_register_err", t_register_err);
	run("thread_err_no_reason", t_err_no_reason);
	run("thread_unregister", t_unregister);
	run("thread_no_server", t_no_server);
	run("thread_refused", t_refused);
	run("thread_default_path", t_default_path);
	run("thread_long_path", t_long_path);
	run("thread_timeout", t_timeout);
	run("thread_closed", t_closed);
	run("thread_garbage", t_garbage);
	run("thread_slow_crlf", t_slow_crlf);
	run("thread_eintr", t_eintr);
	run("thread_long_answer", t_long_answer);
	run("thread_cs_nesting", t_cs_nesting);
	run("thread_mutex", t_mutex);
	run("thread_class", t_class);
	run("thread_per_thread", t_per_thread);
	return harness_done("thread");
}
