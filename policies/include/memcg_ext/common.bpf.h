/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Common definitions for memcg_ext policies (BPF side): the kfuncs of
 * mm/memcg_ext.c and helper macros. The types and enums (struct
 * memcg_ext_ops, enum memcg_ext_decision, ...) come from the vmlinux.h of
 * the memcg_ext kernel.
 */
#ifndef __MEMCG_EXT_COMMON_BPF_H
#define __MEMCG_EXT_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <asm-generic/errno.h>
#include "exit_info.h"

/* memcg_ext_read_counter() value of a limit that is not set */
#define MEMCG_EXT_UNLIMITED	0x7fffffffffffffffLL

void memcg_ext_error_bstr(char *fmt, unsigned long long *data, u32 data__sz) __ksym;
void memcg_ext_exit_bstr(s64 exit_code, char *fmt, unsigned long long *data,
			 u32 data__sz) __ksym;
struct mem_cgroup *memcg_ext_get_memcg(u64 cgroup_id) __ksym;
void memcg_ext_put_memcg(struct mem_cgroup *memcg) __ksym;
u64 memcg_ext_cgroup_id(struct mem_cgroup *memcg) __ksym;
s64 memcg_ext_read_counter(struct mem_cgroup *memcg, u32 counter) __ksym;
s64 memcg_ext_memory_events(struct mem_cgroup *memcg, u32 event) __ksym;
s64 memcg_ext_stat(struct mem_cgroup *memcg, u32 item) __ksym;
s64 memcg_ext_vm_event(struct mem_cgroup *memcg, u32 event) __ksym;
int memcg_ext_bg_reclaim(struct mem_cgroup *memcg, u64 nr_bytes, u32 max_passes,
			 u32 flags) __ksym;
int memcg_ext_bg_add_target(struct mem_cgroup *memcg, s32 tgid) __ksym;
int memcg_ext_bg_del_target(struct mem_cgroup *memcg, s32 tgid) __ksym;
int memcg_ext_set_watermark(struct mem_cgroup *memcg, u32 index, u64 level,
			    u64 hysteresis) __ksym;

/* Pack variadic arguments for the *_bstr kfuncs, as bpf_printk() does. */
#define ___memcg_ext_bstr(fmt, args...)					\
	static char ___fmt[] = fmt;					\
	unsigned long long ___param[___bpf_narg(args) ?: 1] = {};	\
	_Pragma("GCC diagnostic push")					\
	_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")		\
	___bpf_fill(___param, args);					\
	_Pragma("GCC diagnostic pop")

/* Let the compiler check the format string against the arguments. */
static inline __attribute__((format(printf, 1, 2)))
void ___memcg_ext_format_check(const char *fmt, ...) {}

/*
 * memcg_ext_error() ejects the policy: every memcg returns to stock
 * enforcement and the formatted message reaches ops.exit() and sysfs.
 */
#define memcg_ext_error(fmt, args...)					\
({									\
	___memcg_ext_bstr(fmt, ##args)					\
	memcg_ext_error_bstr(___fmt, ___param, sizeof(___param));	\
	___memcg_ext_format_check(fmt, ##args);				\
})

/* memcg_ext_exit() detaches the policy in an orderly way. */
#define memcg_ext_exit(code, fmt, args...)				\
({									\
	___memcg_ext_bstr(fmt, ##args)					\
	memcg_ext_exit_bstr(code, ___fmt, ___param, sizeof(___param));	\
	___memcg_ext_format_check(fmt, ##args);				\
})

#endif /* __MEMCG_EXT_COMMON_BPF_H */
