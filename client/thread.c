// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * memcg_ext thread word (include/memcg_ext/thread.h): the per-thread word
 * the memcg_ext_prio policy reads, and its registration with the policy's
 * loader (docs/PROTOCOL.md, "Thread word").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "memcg_ext/thread.h"

__thread struct mx_thread_word mx_thread_tls_word
	__attribute__((tls_model("initial-exec")));

/* Longest reply line we accept, the '\n' included. */
#define REPLY_MAX	1024

static __thread char thread_err[256];

const char *mx_thread_error(void)
{
	return thread_err;
}

static void set_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(thread_err, sizeof(thread_err), fmt, ap);
	va_end(ap);
}

struct mx_thread_word *mx_thread_word_addr(void)
{
	return &mx_thread_tls_word;
}

void mx_thread_set_class(enum mx_thread_class cl)
{
	mx_thread_barrier();
	mx_thread_tls_word.thread_class = (uint32_t)cl;
	mx_thread_barrier();
}

enum mx_thread_class mx_thread_get_class(void)
{
	return (enum mx_thread_class)mx_thread_tls_word.thread_class;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Read one line (without '\n') into buf within the deadline. 0, or -errno
 * with the error set.
 */
static int read_reply(int fd, char *buf, size_t len, int64_t end, const char *verb)
{
	size_t n = 0;

	for (;;) {
		int left = (int)(end - now_ms());
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;
		char *nl;

		if (left <= 0) {
			set_err("no answer to %s within %d ms", verb, MX_PRIO_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
		r = poll(&pfd, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			set_err("poll: %s", strerror((int)-r));
			return (int)r;
		}
		if (r == 0)
			continue;	/* the deadline check above reports it */
		r = recv(fd, buf + n, len - 1 - n, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			r = -errno;
			set_err("reading the answer to %s: %s", verb, strerror((int)-r));
			return (int)r;
		}
		if (r == 0) {
			set_err("the prio server closed the connection without answering %s", verb);
			return -ECONNRESET;
		}
		n += (size_t)r;
		buf[n] = 0;
		nl = memchr(buf, '\n', n);
		if (nl) {
			*nl = 0;
			if (nl > buf && nl[-1] == '\r')
				nl[-1] = 0;
			return 0;
		}
		if (n + 1 >= len) {
			set_err("answer to %s longer than %zu bytes", verb, len - 1);
			return -EPROTO;
		}
	}
}

/* Send @line, read one reply line. 0 on "OK", else -errno with the error set. */
static int request(const char *sock_path, const char *line, const char *verb)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { MX_PRIO_TIMEOUT_MS / 1000, (MX_PRIO_TIMEOUT_MS % 1000) * 1000 };
	int64_t end = now_ms() + MX_PRIO_TIMEOUT_MS;
	size_t len = strlen(line), off = 0;
	char reply[REPLY_MAX];
	int fd, r;

	thread_err[0] = 0;
	if (!sock_path || !*sock_path)
		sock_path = MX_PRIO_DEFAULT_SOCK;
	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		set_err("socket path too long: %s", sock_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		set_err("socket: %s", strerror(-r));
		return r;
	}
	/* Bounds connect() (a full backlog) and send(). */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while ((r = connect(fd, (struct sockaddr *)&sa, sizeof(sa))) < 0 && errno == EINTR &&
	       now_ms() < end)
		;
	if (r < 0) {
		r = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		set_err("cannot connect to the prio server at %s: %s", sock_path, strerror(-r));
		goto out;
	}
	while (off < len) {
		ssize_t w = send(fd, line + off, len - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR && now_ms() < end)
			continue;
		if (w < 0) {
			r = errno == EAGAIN ? -ETIMEDOUT : -errno;
			set_err("cannot send %s to %s: %s", verb, sock_path, strerror(-r));
			goto out;
		}
		off += (size_t)w;
	}
	r = read_reply(fd, reply, sizeof(reply), end, verb);
	if (r < 0)
		goto out;
	if (!strcmp(reply, "OK") || !strncmp(reply, "OK ", 3)) {
		r = 0;
	} else if (!strcmp(reply, "ERR") || !strncmp(reply, "ERR ", 4)) {
		set_err("the prio server refused %s: %s", verb,
			reply[3] && reply[4] ? reply + 4 : "(no reason given)");
		r = -EPERM;
	} else {
		set_err("unexpected answer to %s: '%.200s'", verb, reply);
		r = -EPROTO;
	}
out:
	close(fd);
	return r;
}

static pid_t my_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

int mx_thread_register(const char *sock_path)
{
	char line[64];

	snprintf(line, sizeof(line), "REGISTER %d 0x%" PRIxPTR "\n", (int)my_tid(),
		 (uintptr_t)&mx_thread_tls_word);
	return request(sock_path, line, "REGISTER");
}

int mx_thread_unregister(const char *sock_path)
{
	char line[32];

	snprintf(line, sizeof(line), "UNREGISTER %d\n", (int)my_tid());
	return request(sock_path, line, "UNREGISTER");
}
