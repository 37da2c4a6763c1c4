// SPDX-License-Identifier: GPL-2.0
/*
 * memcg_ext_agent: the host agent. One thread, one epoll loop: signals
 * (signalfd), the control tick (timerfd), PSI triggers on the host and on
 * every workload, memory.events / cgroup.events notifications (EPOLLPRI
 * on kernfs files), the load-shedding socket, the CLI's control socket and
 * the metrics listener. Nothing polls in a busy loop.
 *
 * usage: memcg_ext_agent [-c POLICY] [--dry-run] [--check]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "agent.h"

#define DEFAULT_POLICY "/etc/memcg_ext/policy.yaml"

void mx_watch(struct mx_agent *a, struct mx_src *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	if (src->fd >= 0 && epoll_ctl(a->epfd, EPOLL_CTL_ADD, src->fd, &ev))
		fprintf(stderr, "epoll_ctl: %s\n", strerror(errno));
}

void mx_unwatch(struct mx_agent *a, struct mx_src *src)
{
	if (src->fd < 0)
		return;
	epoll_ctl(a->epfd, EPOLL_CTL_DEL, src->fd, NULL);
	close(src->fd);
	src->fd = -1;
}

static void print_errors(struct mx_policy_errors *errs)
{
	int i;

	for (i = 0; i < errs->count; i++)
		fprintf(stderr, "%s\n", errs->msg[i]);
}

static void arm_timer(struct mx_agent *a)
{
	uint64_t ms = a->policy->agent.interval_ms;
	struct itimerspec its = {
		.it_interval = { ms / 1000, (ms % 1000) * 1000000 },
		.it_value = { ms / 1000, (ms % 1000) * 1000000 },
	};

	timerfd_settime(a->timer_src.fd, 0, &its, NULL);
}

int mx_reload(struct mx_agent *a, json_object *reply)
{
	struct mx_policy_errors errs;
	struct mx_policy *np, *old = a->policy;
	struct mx_workload *w, **pp;
	json_object *arr;
	int i;

	if (mx_policy_load(a->policy_path, &np, &errs)) {
		arr = json_object_new_array();
		for (i = 0; i < errs.count; i++)
			json_object_array_add(arr, json_object_new_string(errs.msg[i]));
		mx_decide(a, NULL, "reload-failed", NULL, "%s: %d error(s), the running policy "
			  "stays: %s", a->policy_path, errs.count, errs.msg[0]);
		print_errors(&errs);
		if (reply) {
			json_object_object_add(reply, "ok", json_object_new_boolean(0));
			json_object_object_add(reply, "errors", arr);
		} else {
			json_object_put(arr);
		}
		mx_policy_errors_free(&errs);
		return -1;
	}
	/* Re-bind every tracked cgroup to its workload in the new policy. */
	for (pp = &a->workloads; (w = *pp);) {
		const struct mx_workload_policy *p = mx_policy_find(np, w->policy_name);

		if (p) {
			w->pol = p;
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		mx_decide(a, w, "untrack", NULL, "workload '%s' is not in the new policy",
			  w->policy_name);
		mx_workload_free(a, w);
	}
	a->policy = np;
	if (!a->dry_run_forced)
		a->dry_run = np->agent.dry_run;
	if (np->agent.interval_ms != old->agent.interval_ms)
		arm_timer(a);
	if (strcmp(np->agent.socket, old->agent.socket) ||
	    strcmp(np->agent.control_socket, old->agent.control_socket))
		mx_decide(a, NULL, "reload-note", NULL, "socket paths change only on restart");
	mx_policy_free(old);
	mx_decide(a, NULL, "reload", NULL, "%s: %d workloads", a->policy_path, np->nr_workloads);
	if (reply)
		json_object_object_add(reply, "ok", json_object_new_boolean(1));
	mx_control_run(a, "reload");
	return 0;
}

static int mkdirs(const char *path)
{
	char dir[PATH_MAX], *s;

	snprintf(dir, sizeof(dir), "%s", path);
	for (s = dir + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(dir, 0755);
			*s = '/';
		}
	return mkdir(dir, 0755) && errno != EEXIST ? -errno : 0;
}

static int setup(struct mx_agent *a)
{
	sigset_t mask;
	char dir[PATH_MAX], *s;
	int fd, ret;

	snprintf(dir, sizeof(dir), "%s", a->policy->agent.event_log);
	if ((s = strrchr(dir, '/')) && s != dir) {
		*s = '\0';
		mkdirs(dir);
	}
	a->event_log = fopen(a->policy->agent.event_log, "ae");
	if (!a->event_log)
		fprintf(stderr, "event log %s: %s\n", a->policy->agent.event_log, strerror(errno));
	mkdirs(a->policy->agent.pressure_dir);
	snprintf(dir, sizeof(dir), "%s", a->policy->agent.state_file);
	if ((s = strrchr(dir, '/')) && s != dir) {
		*s = '\0';
		mkdirs(dir);
	}

	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	a->sig_src = (struct mx_src){ MX_SRC_SIGNAL,
		signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK), NULL };
	mx_watch(a, &a->sig_src, EPOLLIN);
	a->timer_src = (struct mx_src){ MX_SRC_TIMER,
		timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK), NULL };
	mx_watch(a, &a->timer_src, EPOLLIN);
	arm_timer(a);
	/* The host: 100 ms of memory stall in a 1 s window. */
	fd = a->be.ops->psi_trigger(&a->be, NULL, 100000, 1000000);
	a->host_psi_src = (struct mx_src){ MX_SRC_HOST_PSI, fd, NULL };
	if (fd >= 0)
		mx_watch(a, &a->host_psi_src, EPOLLPRI);
	else
		fprintf(stderr, "no host PSI trigger: %s\n", strerror(-fd));

	ret = mx_proto_listen(a);
	if (ret) {
		fprintf(stderr, "socket %s: %s\n", a->policy->agent.socket, strerror(-ret));
		return ret;
	}
	ret = mx_ctl_listen(a);
	if (ret) {
		fprintf(stderr, "control socket %s: %s\n", a->policy->agent.control_socket,
			strerror(-ret));
		return ret;
	}
	a->http_src.fd = -1;
	ret = mx_http_listen(a);
	if (ret)
		fprintf(stderr, "metrics listener %s: %s (continuing without)\n",
			a->policy->agent.metrics_listen, strerror(-ret));
	return 0;
}

static void handle_signal(struct mx_agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sig_src.fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			mx_reload(a, NULL);
			break;
		case SIGCHLD:
			mx_hook_reap(a);
			break;
		default:
			/* Leave every limit as it is: a restart adopts them. */
			mx_decide(a, NULL, "stop", NULL, "signal %u; limits stay as they are",
				  si.ssi_signo);
			a->stop = true;
		}
		if (a->stop)
			break;
	}
}

/* A kernfs notification: read the file again so that the next change fires. */
static void rearm_kernfs(int fd)
{
	char buf[512];

	if (lseek(fd, 0, SEEK_SET) == 0)
		while (read(fd, buf, sizeof(buf)) > 0)
			;
}

static void loop(struct mx_agent *a)
{
	struct epoll_event evs[32];
	uint64_t exp;
	int n, i;

	while (!a->stop) {
		bool run = false, stale = false;

		n = epoll_wait(a->epfd, evs, 32, -1);
		if (n < 0 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			struct mx_src *s = evs[i].data.ptr;

			switch (s->type) {
			case MX_SRC_SIGNAL:
				handle_signal(a);
				stale = true;	/* a reload may have freed workloads */
				break;
			case MX_SRC_TIMER:
				if (read(s->fd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
					break;
				run = true;
				mx_hook_reap(a);
				break;
			case MX_SRC_HOST_PSI:
			case MX_SRC_WL_PSI:
				run = true;
				break;
			case MX_SRC_WL_EVENTS:
			case MX_SRC_WL_CGEVENTS:
				rearm_kernfs(s->fd);
				run = true;
				break;
			case MX_SRC_LISTEN:
				mx_proto_accept(a);
				break;
			case MX_SRC_CLIENT:
				mx_proto_input(a, s->owner);
				break;
			case MX_SRC_CTL_LISTEN:
				mx_ctl_accept(a);
				stale = true;
				break;
			case MX_SRC_HTTP_LISTEN:
				mx_http_accept(a);
				break;
			}
			/*
			 * The rest of the batch may point at what is gone; the
			 * fds are level-triggered, epoll reports them again.
			 */
			if (a->stop || stale)
				break;
		}
		/*
		 * Events come in bursts (a PSI trigger fires every window while
		 * the stall lasts): act at most every 250 ms; the timer catches up.
		 */
		if (run && !a->stop && mx_now_ms() - a->last_run_ms >= 250)
			mx_control_run(a, "event");
		/* Clients are freed only here, between batches. */
		mx_proto_reap(a);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: memcg_ext_agent [-c POLICY] [--dry-run] [--check]\n"
		"  -c, --config POLICY  policy file (default " DEFAULT_POLICY ")\n"
		"  -n, --dry-run        log every decision, change nothing\n"
		"      --check          validate the policy and exit\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "check", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct mx_agent a = { .policy_path = DEFAULT_POLICY };
	struct mx_policy_errors errs;
	bool check = false;
	int c;

	while ((c = getopt_long(argc, argv, "c:nh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a.policy_path = optarg; break;
		case 'n': a.dry_run = a.dry_run_forced = true; break;
		case 'C': check = true; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (mx_policy_load(a.policy_path, &a.policy, &errs)) {
		print_errors(&errs);
		mx_policy_errors_free(&errs);
		return 1;
	}
	if (check) {
		printf("%s: ok, %d workloads\n", a.policy_path, a.policy->nr_workloads);
		mx_policy_free(a.policy);
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!a.dry_run_forced)
		a.dry_run = a.policy->agent.dry_run;
	a.be.ops = &mx_cgroupfs_backend_ops;
	a.start_ms = mx_now_ms();
	if (setup(&a))
		return 1;
	mx_features_report(&a);
	mx_state_load(&a);
	mx_decide(&a, NULL, "start", NULL, "policy %s, %d workloads, interval %llu ms%s",
		  a.policy_path, a.policy->nr_workloads,
		  (unsigned long long)a.policy->agent.interval_ms, a.dry_run ? ", dry-run" : "");
	mx_control_run(&a, "start");
	loop(&a);
	if (!a.dry_run)
		mx_state_save(&a);
	unlink(a.policy->agent.socket);
	unlink(a.policy->agent.control_socket);
	while (a.workloads) {
		struct mx_workload *w = a.workloads;

		a.workloads = w->next;
		mx_workload_free(&a, w);
	}
	for (c = 0; c < MX_MAX_CLIENTS; c++)
		if (a.clients[c]) {
			close(a.clients[c]->src.fd);
			free(a.clients[c]);
		}
	if (a.event_log)
		fclose(a.event_log);
	json_object_put(a.saved_state);
	mx_policy_free(a.policy);
	return 0;
}
