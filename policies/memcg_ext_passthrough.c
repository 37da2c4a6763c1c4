// SPDX-License-Identifier: GPL-2.0
/*
 * Loader of the memcg_ext_passthrough policy: attach, report the charge
 * events the policy saw every interval (with -i), detach on SIGINT/SIGTERM
 * or when the kernel ejects the policy.
 */
#include <libgen.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <memcg_ext/common.h>
#include "memcg_ext_passthrough.bpf.skel.h"

static const char help_fmt[] =
"memcg_ext_passthrough: a policy that decides what stock memcg would.\n"
"\n"
"Usage: %s [-i SECONDS] [-v]\n"
"\n"
"  -i SECONDS  print the charge events seen every SECONDS\n"
"  -v          print libbpf debug messages\n"
"  -h          show this help\n";

static const char *const event_names[] = { "high", "swap_high", "max" };

static void read_events(struct memcg_ext_passthrough *skel, u64 *total)
{
	int nr_cpus = libbpf_num_possible_cpus();
	u64 cnts[nr_cpus];
	u32 ev;

	for (ev = 0; ev < 3; ev++) {
		total[ev] = 0;
		if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.charge_events),
					&ev, cnts))
			continue;
		for (int cpu = 0; cpu < nr_cpus; cpu++)
			total[ev] += cnts[cpu];
	}
}

int main(int argc, char **argv)
{
	struct memcg_ext_passthrough *skel;
	struct bpf_link *link;
	unsigned int interval = 0, waited = 0;
	bool verbose = false;
	u64 events[3];
	int opt;

	while ((opt = getopt(argc, argv, "i:vh")) != -1) {
		switch (opt) {
		case 'i':
			interval = mx_parse_uint(optarg, "-i", 86400);
			break;
		case 'v':
			verbose = true;
			break;
		default:
			fprintf(stderr, help_fmt, basename(argv[0]));
			return opt != 'h';
		}
	}

	mx_set_verbose(verbose);
	mx_setup_signals();

	skel = MX_OPS_OPEN(memcg_ext_passthrough);
	MX_OPS_LOAD(skel, memcg_ext_passthrough);
	link = MX_OPS_ATTACH(skel, memcg_ext_passthrough, passthrough_ops);
	printf("memcg_ext_passthrough: attached\n");
	fflush(stdout);

	while (!mx_exit_req && !MEI_EXITED(skel, mei)) {
		sleep(1);
		if (interval && ++waited % interval == 0) {
			read_events(skel, events);
			printf("charge events: high=%llu swap_high=%llu max=%llu\n",
			       (unsigned long long)events[0],
			       (unsigned long long)events[1],
			       (unsigned long long)events[2]);
			fflush(stdout);
		}
	}

	read_events(skel, events);
	for (int ev = 0; ev < 3; ev++)
		printf("%s%s=%llu", ev ? " " : "charge events: ",
		       event_names[ev], (unsigned long long)events[ev]);
	printf("\n");
	bpf_link__destroy(link);
	fflush(stdout);
	MEI_REPORT(skel, mei);
	opt = MEI_ERROR(skel, mei);
	memcg_ext_passthrough__destroy(skel);
	return opt ? EXIT_FAILURE : EXIT_SUCCESS;
}
