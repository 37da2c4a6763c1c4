// SPDX-License-Identifier: GPL-2.0
/*
 * memcg_extctl: the CLI of memcg_ext_agent. Talks to the agent's control
 * socket (one request line, one JSON reply line) and prints it for people.
 *
 * usage: memcg_extctl [-s SOCKET] status [--json] | top [-i SECONDS] [-n COUNT] |
 *        reload | dry-run on|off | explain WORKLOAD | check POLICY
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "policy.h"
#include "util.h"

static const char *sock_path = "/run/memcg_ext/ctl.sock";

static void usage(void)
{
	fprintf(stderr,
		"usage: memcg_extctl [-s SOCKET] COMMAND\n"
		"  status [--json]        table per workload: usage, limits, protection,\n"
		"                         headroom, pressure, last decision\n"
		"  top [-i SEC] [-n N]    the status table, refreshed\n"
		"  reload                 re-read the policy (a bad file keeps the old one)\n"
		"  dry-run on|off         log decisions only / act again\n"
		"  explain WORKLOAD       why the last decisions were taken\n"
		"  check POLICY           validate a policy file, print file:line errors\n"
		"SOCKET defaults to %s\n", sock_path);
	exit(2);
}

static json_object *request(const char *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *buf = NULL;
	size_t len = 0, cap = 0;
	json_object *reply;
	ssize_t n;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "memcg_extctl: cannot reach the agent at %s: %s\n", sock_path,
			strerror(errno));
		exit(1);
	}
	{
		/* A stuck agent must not hang the CLI (nor a test that calls it). */
		struct timeval tv = { .tv_sec = 10 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	if (write(fd, req, strlen(req)) < 0 || write(fd, "\n", 1) < 0) {
		fprintf(stderr, "memcg_extctl: write: %s\n", strerror(errno));
		exit(1);
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	if (!buf) {
		fprintf(stderr, "memcg_extctl: no reply from the agent\n");
		exit(1);
	}
	buf[len] = '\0';
	reply = json_tokener_parse(buf);
	free(buf);
	if (!reply) {
		fprintf(stderr, "memcg_extctl: the agent's reply is not JSON\n");
		exit(1);
	}
	return reply;
}

static const char *str(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : "";
}

static uint64_t num(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !v)
		return 0;
	if (json_object_is_type(v, json_type_string))
		return MX_UNLIMITED;	/* "max" */
	return json_object_get_uint64(v);
}

static double dbl(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_double(v) : 0;
}

static const char *b(uint64_t v, char *buf)
{
	mx_format_bytes(v, buf, 16);
	return buf;
}

static const char *headroom(json_object *o, const char *k, char *buf)
{
	json_object *v;
	int64_t h;

	if (!json_object_object_get_ex(o, k, &v) || !v)
		return "-";
	h = json_object_get_int64(v);
	if (h < 0) {
		buf[0] = '-';
		mx_format_bytes(-h, buf + 1, 15);
	} else {
		mx_format_bytes(h, buf, 16);
	}
	return buf;
}

static void print_status(json_object *st)
{
	json_object *host, *wls;
	char b1[16], b2[16], b3[16], b4[16], b5[16], b6[16], b7[16], b8[16];
	size_t i;

	json_object_object_get_ex(st, "host", &host);
	json_object_object_get_ex(st, "workloads", &wls);
	printf("host: used %s of %s, ceiling %s, psi some avg10 %.2f; kernel %s, backend %s%s\n",
	       b(num(host, "used"), b1), b(num(host, "mem_total"), b2), b(num(host, "ceiling"), b3),
	       dbl(host, "psi_some_avg10"), str(st, "kernel"), str(st, "backend"),
	       json_object_get_boolean(json_object_object_get(st, "dry_run")) ? ", DRY RUN" : "");
	printf("%-22s %7s %7s %7s %7s %7s %8s %8s %-8s %5s %-8s %s\n", "WORKLOAD", "USAGE", "SWAP",
	       "LOW", "MAX", "ESTIM", "ROOM-T1", "ROOM-T3", "LEVEL", "PRESS", "STATE",
	       "LAST DECISION");
	for (i = 0; wls && i < json_object_array_length(wls); i++) {
		json_object *w = json_object_array_get_idx(wls, i);
		char last[160];

		snprintf(last, sizeof(last), "%s%s%s", str(w, "last_action"),
			 *str(w, "last_action") ? ": " : "", str(w, "last_reason"));
		if (strlen(last) > 70)
			strcpy(last + 67, "...");
		printf("%-22.22s %7s %7s %7s %7s %7s %8s %8s %-8s %5.2f %-8s %s\n",
		       str(w, "name"), b(num(w, "usage"), b1), b(num(w, "swap"), b2),
		       b(num(w, "low"), b3), b(num(w, "max"), b4), b(num(w, "estimate"), b5),
		       headroom(w, "headroom_t1", b6), headroom(w, "headroom_t3", b7),
		       str(w, "level"), dbl(w, "pressure"), str(w, "escalation"), last);
		(void)b8;
	}
	fflush(stdout);
}

static int cmd_check(const char *file)
{
	struct mx_policy_errors errs;
	struct mx_policy *p;
	int i;

	if (mx_policy_load(file, &p, &errs)) {
		for (i = 0; i < errs.count; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		mx_policy_errors_free(&errs);
		return 1;
	}
	printf("%s: ok, %d workloads\n", file, p->nr_workloads);
	for (i = 0; i < p->nr_workloads; i++)
		printf("  %-16s cgroup %-20s priority %d%s, protection %s%s\n",
		       p->workloads[i].name, p->workloads[i].cgroup, p->workloads[i].priority,
		       p->workloads[i].protected ? " (protected)" : "",
		       mx_protection_mode_name(p->workloads[i].protection.mode),
		       p->workloads[i].shedding.enabled ? ", shedding" : "");
	mx_policy_free(p);
	return 0;
}

int main(int argc, char **argv)
{
	json_object *r, *v;
	const char *cmd;
	int c;

	while ((c = getopt(argc, argv, "+s:h")) != -1) {
		if (c == 's')
			sock_path = optarg;
		else
			usage();
	}
	if (optind >= argc)
		usage();
	cmd = argv[optind++];
	if (!strcmp(cmd, "check")) {
		if (optind != argc - 1)
			usage();
		return cmd_check(argv[optind]);
	}
	if (!strcmp(cmd, "status")) {
		bool json = optind < argc && !strcmp(argv[optind], "--json");

		r = request("status");
		if (json)
			printf("%s\n", json_object_to_json_string_ext(r, JSON_C_TO_STRING_PRETTY));
		else
			print_status(r);
		json_object_put(r);
		return 0;
	}
	if (!strcmp(cmd, "top")) {
		double interval = 2;
		long count = -1;
		bool tty = isatty(1);

		for (; optind < argc; optind += 2) {
			if (optind + 1 >= argc)
				usage();
			if (!strcmp(argv[optind], "-i"))
				interval = atof(argv[optind + 1]);
			else if (!strcmp(argv[optind], "-n"))
				count = atol(argv[optind + 1]);
			else
				usage();
		}
		while (count < 0 || count-- > 0) {
			struct timespec ts = { (time_t)interval,
					       (long)((interval - (time_t)interval) * 1e9) };

			r = request("status");
			if (tty)
				printf("\033[H\033[2J");
			else
				printf("--- %ld\n", (long)time(NULL));
			print_status(r);
			json_object_put(r);
			if (count)
				nanosleep(&ts, NULL);
		}
		return 0;
	}
	if (!strcmp(cmd, "reload")) {
		size_t i;

		r = request("reload");
		if (json_object_get_boolean(json_object_object_get(r, "ok"))) {
			printf("reloaded\n");
			json_object_put(r);
			return 0;
		}
		fprintf(stderr, "reload refused, the running policy stays:\n");
		if (json_object_object_get_ex(r, "errors", &v))
			for (i = 0; i < json_object_array_length(v); i++)
				fprintf(stderr, "%s\n",
					json_object_get_string(json_object_array_get_idx(v, i)));
		json_object_put(r);
		return 1;
	}
	if (!strcmp(cmd, "dry-run")) {
		char req[32];

		if (optind != argc - 1 || (strcmp(argv[optind], "on") && strcmp(argv[optind], "off")))
			usage();
		snprintf(req, sizeof(req), "dry-run %s", argv[optind]);
		r = request(req);
		printf("dry-run %s\n", json_object_get_boolean(json_object_object_get(r, "dry_run")) ?
		       "on" : "off");
		json_object_put(r);
		return 0;
	}
	if (!strcmp(cmd, "explain")) {
		char req[256], tbuf[32];
		size_t i;

		if (optind != argc - 1)
			usage();
		snprintf(req, sizeof(req), "explain %s", argv[optind]);
		r = request(req);
		if (*str(r, "error")) {
			fprintf(stderr, "memcg_extctl: %s: %s\n", argv[optind], str(r, "error"));
			json_object_put(r);
			return 1;
		}
		printf("%s: %s\n", str(r, "workload"), str(r, "summary"));
		if (json_object_object_get_ex(r, "decisions", &v))
			for (i = 0; i < json_object_array_length(v); i++) {
				json_object *d = json_object_array_get_idx(v, i);
				time_t t = (time_t)dbl(d, "time");
				struct tm tm;

				gmtime_r(&t, &tm);
				strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
				printf("  %s %-10s %s", tbuf, str(d, "action"), str(d, "reason"));
				if (num(d, "repeat"))
					printf(" (%" PRIu64 " more times)", num(d, "repeat"));
				printf("\n");
			}
		json_object_put(r);
		return 0;
	}
	usage();
	return 2;
}
