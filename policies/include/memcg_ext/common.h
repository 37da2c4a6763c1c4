/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Common definitions for memcg_ext policy loaders (user space).
 */
#ifndef __MEMCG_EXT_COMMON_H
#define __MEMCG_EXT_COMMON_H

#ifdef __bpf__
#error "BPF programs include common.bpf.h"
#endif

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef int64_t s64;

#include "exit_info.h"

#define MX_CGROUP_ROOT	"/sys/fs/cgroup"

#define MX_BUG(fmt, ...)						\
	do {								\
		fprintf(stderr, "memcg_ext: %s:%d: " fmt, __FILE__,	\
			__LINE__ __VA_OPT__(,) __VA_ARGS__);		\
		if (errno)						\
			fprintf(stderr, " (%s)", strerror(errno));	\
		fputc('\n', stderr);					\
		exit(EXIT_FAILURE);					\
	} while (0)

#define MX_BUG_ON(cond, fmt, ...)					\
	do {								\
		if (cond)						\
			MX_BUG(fmt __VA_OPT__(,) __VA_ARGS__);		\
	} while (0)

/* Open a policy skeleton, failing loudly. */
#define MX_OPS_OPEN(__name) ({						\
	struct __name *__skel = __name##__open();			\
	MX_BUG_ON(!__skel, "cannot open " #__name);			\
	__skel;								\
})

#define MX_OPS_LOAD(__skel, __name)					\
	MX_BUG_ON(__name##__load(__skel),				\
		  "cannot load " #__name " (is this the memcg_ext kernel?)")

/* Attach the struct_ops map @__ops of @__skel; returns the link. */
#define MX_OPS_ATTACH(__skel, __name, __ops) ({				\
	struct bpf_link *__link;					\
	bpf_map__set_autoattach((__skel)->maps.__ops, false);		\
	MX_BUG_ON(__name##__attach(__skel), "cannot attach " #__name);	\
	__link = bpf_map__attach_struct_ops((__skel)->maps.__ops);	\
	MX_BUG_ON(!__link, "cannot attach the " #__ops " policy%s",	\
		  errno == EBUSY ? ": another policy is attached" : "");	\
	__link;								\
})

/* lib/util.c */
extern volatile int mx_exit_req;
void mx_setup_signals(void);
void mx_set_verbose(bool verbose);
s64 mx_cgroup_id(const char *path);
int mx_cgroup_path(const char *root, u64 id, char *buf, size_t len);
const char *mx_fmt_bytes(s64 bytes, char *buf, size_t len);
unsigned long long mx_parse_bytes(const char *s, const char *what);
unsigned long mx_parse_uint(const char *s, const char *what, unsigned long max);

#endif /* __MEMCG_EXT_COMMON_H */
