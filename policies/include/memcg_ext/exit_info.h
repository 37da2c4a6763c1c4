/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Exit information shared between a memcg_ext policy's BPF side and its
 * loader: the BPF side copies the kernel's struct memcg_ext_exit_info in
 * ops.exit() with MEI_RECORD(), the loader polls MEI_EXITED() and prints the
 * reason with MEI_REPORT(), the same way for every policy.
 */
#ifndef __MEMCG_EXT_EXIT_INFO_H
#define __MEMCG_EXT_EXIT_INFO_H

#define MEI_REASON_LEN	128
#define MEI_MSG_LEN	1024

struct mei_exit_info {
	int		kind;
	long long	exit_code;
	char		reason[MEI_REASON_LEN];
	char		msg[MEI_MSG_LEN];
};

#ifdef __bpf__

#define MEI_DEFINE(__name)	struct mei_exit_info __name SEC(".data")

#define MEI_RECORD(__name, __ei) ({					\
	bpf_probe_read_kernel_str(__name.reason, sizeof(__name.reason),	\
				  (__ei)->reason);			\
	bpf_probe_read_kernel_str(__name.msg, sizeof(__name.msg),	\
				  (__ei)->msg);				\
	__name.exit_code = (__ei)->exit_code;				\
	/* kind last, with a barrier: the loader polls it */		\
	__sync_val_compare_and_swap(&__name.kind, __name.kind,		\
				    (__ei)->kind);			\
})

#else /* !__bpf__ */

#include <stdio.h>

/* enum memcg_ext_exit_kind of include/linux/memcg_ext.h */
enum mei_kind {
	MEI_KIND_NONE		= 0,
	MEI_KIND_DONE		= 1,
	MEI_KIND_UNREG		= 64,
	MEI_KIND_UNREG_BPF	= 65,
	MEI_KIND_ERROR		= 1024,
	MEI_KIND_ERROR_BPF	= 1025,
	MEI_KIND_ERROR_DECISION	= 1026,
	MEI_KIND_ERROR_STALL	= 1027,
};

#define MEI_EXITED(__skel, __name)					\
	__sync_val_compare_and_swap(&(__skel)->data->__name.kind, -1, -1)

/*
 * Print "EXIT: <reason> (<msg>)" to stderr and evaluate to the exit code
 * the policy passed to memcg_ext_exit(), 0 otherwise.
 */
#define MEI_REPORT(__skel, __name) ({					\
	struct mei_exit_info *__mei = &(__skel)->data->__name;		\
	fprintf(stderr, "EXIT: %s", __mei->reason[0] ?			\
		__mei->reason : "policy did not run its exit callback");	\
	if (__mei->msg[0] != '\0')					\
		fprintf(stderr, " (%s)", __mei->msg);			\
	fputs("\n", stderr);						\
	__mei->exit_code;						\
})

/* An error exit, as opposed to an orderly detach. */
#define MEI_ERROR(__skel, __name)					\
	((__skel)->data->__name.kind >= MEI_KIND_ERROR)

#endif /* __bpf__ */
#endif /* __MEMCG_EXT_EXIT_INFO_H */
