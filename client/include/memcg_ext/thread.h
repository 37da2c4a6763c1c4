/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * memcg_ext thread word: what a thread tells the memcg_ext_prio policy
 * about itself, without a system call.
 *
 * Why. The memcg_ext_prio policy decides, when a thread charges memory above
 * its cgroup's thresholds or returns to user mode owing reclaim, whether the
 * thread pays now (synchronous reclaim, a throttling sleep) or later. A thread
 * that is throttled while it holds a lock stalls every thread waiting for that
 * lock: a priority inversion that turns one thread's reclaim into the whole
 * process's latency. So the policy defers throttling of a thread that is
 * inside a user-space critical section (cs_depth > 0) until it leaves it
 * (the debt is kept and collected at a later return to user mode), and lets
 * the thread pick its class (never throttled, normal, throttled first).
 *
 * How. Every thread has one struct mx_thread_word in its own thread-local
 * storage. The thread writes it with plain stores (mx_cs_enter/leave,
 * mx_thread_set_class); the policy reads it with bpf_probe_read_user() from
 * its hooks, which run in the thread's own context (at a charge, at return to
 * user mode), so no atomics are needed: only the thread writes, and the
 * kernel reads only while that same thread is in the kernel. A compiler
 * barrier keeps the cs_depth store from being moved into or out of the
 * critical section (a page fault on any access inside the section must see
 * cs_depth > 0).
 *
 * Registration. The policy has to know where the word is:
 * mx_thread_register() sends "REGISTER <tid> 0x<address>" to the policy's
 * loader over a Unix socket (docs/PROTOCOL.md, "Thread word"). Register each
 * thread that wants the policy to look at its word, from that thread; the
 * loader accepts only threads of the calling process. Without registration
 * the word is still maintained (cheaply) but nobody reads it.
 *
 * Lifetime. The registered address must stay valid for as long as the thread
 * lives: it is this thread's TLS, which exists exactly that long. Call
 * mx_thread_unregister() before a registered thread exits (its TLS is freed
 * at exit and its tid may be reused).
 *
 * The word is a statement by the thread about itself; it only ever asks the
 * policy to postpone or to order throttling, and the policy decides.
 *
 *	mx_thread_register(NULL);		// /run/memcg_ext/prio.sock
 *	mx_thread_set_class(MX_CLASS_FIRST);	// e.g. a batch worker
 *	mx_mutex_lock(&m);  ...  mx_mutex_unlock(&m);
 *	mx_cs_enter();  ... a lock-free critical section ...  mx_cs_leave();
 *	mx_thread_unregister(NULL);
 *
 * Link: build/lib/libmemcg_ext_client.a (thread.c), -lpthread.
 */
#ifndef MEMCG_EXT_THREAD_H
#define MEMCG_EXT_THREAD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MX_PRIO_DEFAULT_SOCK	"/run/memcg_ext/prio.sock"
/* How long mx_thread_register()/unregister() wait for the answer. */
#define MX_PRIO_TIMEOUT_MS	2000

/*
 * The word shared with the policy (policies/memcg_ext_prio.h, struct
 * prio_thread_word, has the same layout). 8 bytes, 8-byte aligned: it never
 * straddles a page, so the policy reads it in one go.
 */
struct mx_thread_word {
	uint32_t cs_depth;	/* > 0: inside a user-space critical section */
	uint32_t thread_class;	/* enum mx_thread_class */
} __attribute__((aligned(8)));

#ifndef __cplusplus
_Static_assert(sizeof(struct mx_thread_word) == 8, "mx_thread_word layout");
_Static_assert(offsetof(struct mx_thread_word, cs_depth) == 0, "mx_thread_word layout");
_Static_assert(offsetof(struct mx_thread_word, thread_class) == 4, "mx_thread_word layout");
#endif

enum mx_thread_class {
	MX_CLASS_UNSET = 0,	/* the policy uses its name rules, else normal */
	MX_CLASS_NORMAL = 1,	/* deferred below T2, throttled above */
	MX_CLASS_NEVER = 2,	/* never reclaims synchronously nor sleeps */
	MX_CLASS_FIRST = 3,	/* throttled whenever it owes reclaim */
};

/*
 * This thread's word. Defined in thread.c; initial-exec TLS so that the
 * inline functions below are one %fs-relative load and store (the library is
 * a static archive for executables).
 */
extern __thread struct mx_thread_word mx_thread_tls_word
	__attribute__((tls_model("initial-exec")));

/* Address of the calling thread's word (what REGISTER sends). */
struct mx_thread_word *mx_thread_word_addr(void);

/*
 * Register the calling thread's word with the prio policy's loader at
 * @sock_path (NULL or "": MX_PRIO_DEFAULT_SOCK): connect, send
 * "REGISTER <tid> 0x<hex address>\n", wait up to MX_PRIO_TIMEOUT_MS for one
 * reply line, close. Returns 0 on "OK", else -errno with mx_thread_error()
 * set: -EPERM (the loader answered "ERR <reason>"), -ENOENT / -ECONNREFUSED
 * (no loader), -ETIMEDOUT (no answer), -ECONNRESET (closed without an
 * answer), -EPROTO (an answer that is neither OK nor ERR), -ENAMETOOLONG.
 * Blocks for at most about MX_PRIO_TIMEOUT_MS (connect, send and reply).
 */
int mx_thread_register(const char *sock_path);

/* "UNREGISTER <tid>\n"; same socket, results and errors as register. */
int mx_thread_unregister(const char *sock_path);

/*
 * Why the calling thread's last mx_thread_register()/unregister() failed
 * ("" after a success or before any call). Thread-local; valid until the
 * thread's next call.
 */
const char *mx_thread_error(void);

/* Plain store to this thread's word; no system call. */
void mx_thread_set_class(enum mx_thread_class cl);
enum mx_thread_class mx_thread_get_class(void);

#define mx_thread_barrier()	__asm__ __volatile__("" ::: "memory")

/*
 * Enter/leave a critical section; they nest. The barrier after the
 * increment keeps the section's accesses from being moved before it (a
 * fault inside the section sees cs_depth > 0); the barrier before the
 * decrement keeps them from being moved after it. An unbalanced leave at
 * depth 0 is ignored (it does not wrap to "inside forever").
 */
static inline void mx_cs_enter(void)
{
	mx_thread_barrier();
	mx_thread_tls_word.cs_depth++;
	mx_thread_barrier();
}

static inline void mx_cs_leave(void)
{
	mx_thread_barrier();
	if (mx_thread_tls_word.cs_depth)
		mx_thread_tls_word.cs_depth--;
	mx_thread_barrier();
}

static inline unsigned int mx_cs_depth(void)
{
	return mx_thread_tls_word.cs_depth;
}

/*
 * pthread_mutex_lock() inside a critical section: enter, then lock (a
 * thread waiting for the lock already counts as inside); if the lock fails,
 * leave again. Returns what pthread_mutex_lock() returns.
 */
static inline int mx_mutex_lock(pthread_mutex_t *m)
{
	int r;

	mx_cs_enter();
	r = pthread_mutex_lock(m);
	if (r)
		mx_cs_leave();
	return r;
}

/* Enter, then trylock; leave again unless the lock was taken. */
static inline int mx_mutex_trylock(pthread_mutex_t *m)
{
	int r;

	mx_cs_enter();
	r = pthread_mutex_trylock(m);
	if (r)
		mx_cs_leave();
	return r;
}

/*
 * Unlock, then leave. If the unlock fails (an error-checking mutex the
 * thread does not own) the thread did not leave anything: the depth stays.
 */
static inline int mx_mutex_unlock(pthread_mutex_t *m)
{
	int r = pthread_mutex_unlock(m);

	if (!r)
		mx_cs_leave();
	return r;
}

#ifdef __cplusplus
}
#endif

#endif /* MEMCG_EXT_THREAD_H */
