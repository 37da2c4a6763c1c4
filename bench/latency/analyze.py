#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""latency benchmark (P1): bench/results/latency.{json,md} from the VM's latency.jsonl.

usage: analyze.py --out-dir DIR --command CMD [--host-load B,A,NCPU]
                  [--results results.txt] [--console console.log] latency.jsonl

Per configuration (main runs, interleaved repetitions in one boot): the
critical process's operation latency p50/p99/p99.9 (median over the
repetitions of each run's exact percentile; "pooled" = from the merged
histograms of all its runs), direct reclaim over the measured window
(memory.stat pgscan_direct/pgsteal_direct, memory.events max/high), and
reclaim CPU (memory.ext.stat bg_cpu_usec, cpu.stat system_usec). The sweep:
the same per batch rate. Exit status 0 when the report was written.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from benchlib import delta, med, pooled, r3, ratio  # noqa: E402

CONFIG_TEXT = {
    "none": "no limit (floor)",
    "max": "stock memory.max",
    "high": "stock memory.high",
    "mcx": "memcg_ext bgreclaim + memory.max",
    "mcx-high": "memcg_ext bgreclaim + memory.high",
}
ORDER = ["none", "max", "high", "mcx", "mcx-high"]
TARGET_FLOOR = 1.5	# p99 mcx <= 1.5 x floor
TARGET_STOCK = 10.0	# p99 stock memory.max >= 10 x mcx


def summarize(runs):
    """Statistics of one configuration's runs (medians over runs)."""
    res = [r["result"] for r in runs]
    s = {"n": len(runs), "reps": sorted(r["rep"] for r in runs)}
    for q in ("p50", "p90", "p99", "p999", "max", "mean"):
        vals = [x["lat"][f"{q}_us"] for x in res]
        s[f"{q}_us"] = r3(med(vals))
        s[f"{q}_us_per_rep"] = [r3(v) for v in vals]
    s["pooled"] = pooled([r["result"]["lat"] for r in runs], (0.5, 0.99, 0.999))
    s["lateness_p99_us"] = r3(med([x["lateness"]["p99_us"] for x in res]))
    s["lateness_p50_us"] = r3(med([x["lateness"]["p50_us"] for x in res]))
    s["ops"] = med([x["ops"] for x in res])
    s["missed_periods"] = med([x["missed_periods"] for x in res])
    s["window_s"] = r3(med([x["window_s"] for x in res]))
    s["batch_mibps"] = r3(med([x["batch_mibps"] for x in res]))
    s["batch_dropped_ms"] = r3(med([x["batch_dropped_ms"] for x in res]))
    s["crit_majflt"] = med([x["crit_majflt"] for x in res])
    s["memory_peak"] = med([x.get("memory_peak") for x in res])
    keys = [("memory.stat", "pgscan_direct"), ("memory.stat", "pgsteal_direct"),
            ("memory.stat", "pgscan_background"), ("memory.stat", "pgsteal_background"),
            ("memory.stat", "pgmajfault"), ("memory.stat", "pswpout"),
            ("memory.stat", "workingset_refault_anon"),
            ("memory.events", "max"), ("memory.events", "high"), ("memory.events", "oom"),
            ("memory.events", "oom_kill"),
            ("memory.ext.stat", "bg_requests"), ("memory.ext.stat", "bg_passes"),
            ("memory.ext.stat", "bg_reclaimed"), ("memory.ext.stat", "bg_cpu_usec"),
            ("memory.ext.stat", "bg_backoffs"), ("memory.ext.stat", "watermark_events"),
            ("cpu.stat", "usage_usec"), ("cpu.stat", "system_usec"), ("cpu.stat", "user_usec"),
            ("memory.pressure", "some_total_usec"), ("memory.pressure", "full_total_usec"),
            ("cpu.pressure", "some_total_usec"),
            ("crit.memory.pressure", "some_total_usec"), ("crit.cpu.pressure", "some_total_usec"),
            ("batch.memory.pressure", "some_total_usec"),
            ("vmstat", "pgscan_kswapd"), ("vmstat", "pgscan_direct")]
    for src, k in keys:
        vals = [delta(r, src, k) for r in runs]
        if all(v is None for v in vals):
            continue
        name = {"memory.events": "events_", "vmstat": "global_", "memory.pressure": "memory_psi_",
                "cpu.pressure": "cpu_psi_", "crit.memory.pressure": "crit_memory_psi_",
                "crit.cpu.pressure": "crit_cpu_psi_",
                "batch.memory.pressure": "batch_memory_psi_"}.get(src, "") + k
        s[name] = med(vals)
        s[name + "_per_rep"] = vals
    s["kernel_warnings"] = sum(r.get("kernel_warnings", 0) for r in runs)
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--host-load", default="")
    ap.add_argument("--results", default="")
    ap.add_argument("--console", default="")
    ap.add_argument("jsonl")
    a = ap.parse_args()

    recs = []
    with open(a.jsonl, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                recs.append(json.loads(line))
            except ValueError as e:
                print(f"{a.jsonl}:{n}: not JSON ({e}), skipped", file=sys.stderr)
    meta = next((r for r in recs if r.get("type") == "meta"), None)
    end = next((r for r in recs if r.get("type") == "end"), None)
    if meta is None:
        sys.exit("latency: no meta line: the VM run did not start the benchmark")
    runs = [r for r in recs if r.get("type") == "run"]
    valid = [r for r in runs if r.get("valid") and r.get("result")]
    invalid = [r for r in runs if r not in valid]

    main_by, sweep_by = {}, {}
    for r in valid:
        if r["kind"] == "main":
            main_by.setdefault(r["config"], []).append(r)
        else:
            sweep_by.setdefault((r["config"], r["rate_mibps"]), []).append(r)
    configs = {c: summarize(main_by[c]) for c in ORDER if c in main_by}
    sweep = []
    for (c, rate), rs in sorted(sweep_by.items(), key=lambda x: (ORDER.index(x[0][0]), x[0][1])):
        s = summarize(rs)
        s["config"], s["rate_mibps"] = c, rate
        sweep.append(s)

    def g(c, k):
        return configs.get(c, {}).get(k)

    summary = {
        "p99_stock_over_mcx": r3(ratio(g("max", "p99_us"), g("mcx", "p99_us"))),
        "p99_mcx_over_floor": r3(ratio(g("mcx", "p99_us"), g("none", "p99_us"))),
        "p99_high_over_mcx": r3(ratio(g("high", "p99_us"), g("mcx", "p99_us"))),
        "p999_stock_over_mcx": r3(ratio(g("max", "p999_us"), g("mcx", "p999_us"))),
        "p999_mcx_over_floor": r3(ratio(g("mcx", "p999_us"), g("none", "p999_us"))),
    }
    # The critical process's own memory stall time (PSI of its child cgroup):
    # not inflated by host preemption the way wall-clock latencies are.
    cs_max, cs_mcx = g("max", "crit_memory_psi_some_total_usec"), g("mcx", "crit_memory_psi_some_total_usec")
    summary["crit_memory_stall_ms_stock_max"] = None if cs_max is None else round(cs_max / 1e3, 1)
    summary["crit_memory_stall_ms_mcx"] = None if cs_mcx is None else round(cs_mcx / 1e3, 1)
    pm, pn = g("max", "pooled") or {}, g("none", "pooled") or {}
    px = g("mcx", "pooled") or {}
    summary["p99_stock_over_mcx_pooled"] = r3(ratio(pm.get("p99_us"), px.get("p99_us")))
    summary["p99_mcx_over_floor_pooled"] = r3(ratio(px.get("p99_us"), pn.get("p99_us")))
    for c in configs:
        cc = c.replace("-", "_")
        for k in ("p50_us", "p99_us", "p999_us", "pgscan_direct", "pgsteal_direct", "events_max",
                  "events_high", "system_usec", "usage_usec", "bg_cpu_usec", "pgsteal_background",
                  "crit_majflt", "batch_mibps", "lateness_p99_us", "memory_psi_some_total_usec",
                  "memory_psi_full_total_usec", "crit_memory_psi_some_total_usec",
                  "crit_cpu_psi_some_total_usec", "batch_memory_psi_some_total_usec"):
            v = configs[c].get(k)
            if v is not None:
                summary[f"{k}_{cc}"] = v
    # Sweep: the lowest rate at which the policy configuration shows direct
    # reclaim in its window.
    pol = [s for s in sweep if s["config"].startswith("mcx")]
    first = next((s["rate_mibps"] for s in sorted(pol, key=lambda s: s["rate_mibps"])
                  if (s.get("pgscan_direct") or 0) > 0), None)
    summary["first_direct_reclaim_rate_mibps"] = first
    summary["sweep_max_rate_mibps"] = max((s["rate_mibps"] for s in pol), default=None)
    summary["sweep_no_direct_reclaim_up_to_mibps"] = (
        None if not pol else max((s["rate_mibps"] for s in pol
                                  if first is None or s["rate_mibps"] < first), default=None))
    for s in pol:
        summary[f"sweep_{s['rate_mibps']}_pgscan_direct"] = s.get("pgscan_direct")
        summary[f"sweep_{s['rate_mibps']}_p99_us"] = s.get("p99_us")
        summary[f"sweep_{s['rate_mibps']}_batch_mibps"] = s.get("batch_mibps")
    summary["reps"] = min((c["n"] for c in configs.values()), default=0)
    summary["rate_mibps"] = meta.get("rate_mibps")
    summary["limit_mib"] = meta.get("limit_mib")
    summary["invalid_runs"] = len(invalid)
    summary["kernel_warnings"] = sum(r.get("kernel_warnings", 0) for r in runs)
    summary["target_p99_mcx_over_floor"] = TARGET_FLOOR
    summary["target_p99_stock_over_mcx"] = TARGET_STOCK
    complete = all(summary[k] is not None for k in ("p99_stock_over_mcx", "p99_mcx_over_floor"))
    summary["meets_target_floor"] = (complete and summary["p99_mcx_over_floor"] <= TARGET_FLOOR) or False
    summary["meets_target_stock"] = (complete and summary["p99_stock_over_mcx"] >= TARGET_STOCK) or False

    host = None
    if a.host_load:
        try:
            b, af, nc = (float(x) for x in a.host_load.split(","))
            host = {"before": b, "after": af, "ncpu": int(nc)}
        except ValueError:
            host = None
    summary["host_load_before"] = host and host["before"]
    summary["host_load_after"] = host and host["after"]
    vmres = []
    if a.results and os.path.exists(a.results):
        vmres = [l.rstrip("\n") for l in open(a.results, encoding="utf-8", errors="replace")]
    console_warn = []
    if a.console and os.path.exists(a.console):
        pat = re.compile(r"WARNING:|BUG:|Oops|soft lockup|rcu_.* detected stalls|Call Trace")
        for l in open(a.console, encoding="utf-8", errors="replace"):
            if pat.search(l) and not l.startswith("[bench_latency]"):
                console_warn.append(l.rstrip("\n")[:300])
    summary["console_warning_lines"] = len(console_warn)

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    doc = {
        "benchmark": "latency",
        "date": now.isoformat(),
        "command": a.command,
        "commit": commit,
        "status": "complete" if complete else "partial",
        "summary": summary,
        "method": {
            "p99": "median over repetitions of each run's exact (nearest-rank) percentile of the "
                   "critical process's per-operation latency (mmap + touch + munmap of buf_kib "
                   "every period_us); pooled = from the merged histograms (upper bucket bound, "
                   "6% resolution)",
            "direct_reclaim": "memory.stat pgscan_direct/pgsteal_direct and memory.events max/high "
                              "deltas over the measured window, median over repetitions",
            "reclaim_cpu": "memory.ext.stat bg_cpu_usec and cpu.stat system_usec deltas over the "
                           "window (system_usec includes the batch's and critical's own kernel time "
                           "and, on memcg_ext, the background reclaim charged to the cgroup)",
            "first_direct_reclaim_rate_mibps": "lowest sweep rate whose window shows pgscan_direct > 0 "
                                               "with the policy (null: none up to the highest rate)",
        },
        "meta": meta,
        "end": end,
        "host_load": host,
        "vm_results": vmres,
        "console_warnings": console_warn[:50],
        "configs": configs,
        "sweep": sweep,
        "runs": runs,
    }
    os.makedirs(a.out_dir, exist_ok=True)
    jpath = os.path.join(a.out_dir, "latency.json")
    with open(jpath + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(jpath + ".tmp", jpath)

    def f(x, d=0):
        if x is None:
            return "n/a"
        if isinstance(x, float) and d:
            return f"{x:.{d}f}"
        return f"{x:.0f}" if isinstance(x, (int, float)) else str(x)

    def ms(x):
        return "n/a" if x is None else f"{x / 1000:.0f}"

    def us(x):
        if x is None:
            return "n/a"
        return f"{x / 1000:.1f} ms" if x >= 1000 else f"{x:.0f} µs"

    m = meta
    md = ["<!-- SPDX-License-Identifier: GPL-2.0 -->",
          "# Benchmark: latency (P1) — allocation latency next to a batch job at the limit", "",
          f"- Date: {now.strftime('%Y-%m-%d %H:%M UTC')}" + (f", commit {commit}" if commit else ""),
          f"- Command: `{a.command}`",
          f"- Kernel: {m.get('kernel')} ({m.get('uname')}), {m.get('cpus')} vCPUs, QEMU TCG, "
          f"LRU {m.get('lru') or 'default'}, THP `{m.get('thp')}`, zram swap `{m.get('zram_comp', '').strip()}`",
          f"- Host load (1-min average, {host['ncpu'] if host else '?'} CPUs): "
          + (f"{host['before']} before, {host['after']} after the boot" if host else "n/a"),
          f"- Status: {doc['status']}; invalid runs: {len(invalid)}; kernel warning lines on the "
          f"console: {len(console_warn)}",
          "",
          "## Result", ""]
    if complete:
        md.append(f"- **p99_stock_over_mcx = {summary['p99_stock_over_mcx']}** (stock memory.max p99 "
                  f"{us(g('max', 'p99_us'))} / memcg_ext p99 {us(g('mcx', 'p99_us'))}); target ≥ "
                  f"{TARGET_STOCK:g}: **{'met' if summary['meets_target_stock'] else 'not met'}**")
        md.append(f"- **p99_mcx_over_floor = {summary['p99_mcx_over_floor']}** (memcg_ext p99 / "
                  f"no-limit p99 {us(g('none', 'p99_us'))}); target ≤ {TARGET_FLOOR:g}: "
                  f"**{'met' if summary['meets_target_floor'] else 'not met'}**")
        md.append(f"- Pooled over all repetitions' samples: stock/mcx p99 "
                  f"{summary['p99_stock_over_mcx_pooled']}, mcx/floor p99 "
                  f"{summary['p99_mcx_over_floor_pooled']}.")
    else:
        md.append("- Incomplete: a configuration needed for the ratios has no valid run.")
    if any(c.get("crit_memory_psi_some_total_usec") is not None for c in configs.values()):
        md.append("- The critical process's own memory stall time over the window (PSI of its child "
                  "cgroup; median over repetitions): "
                  + ", ".join(f"{CONFIG_TEXT.get(c, c)} {ms(s.get('crit_memory_psi_some_total_usec'))} ms"
                              for c, s in configs.items()) + ".")
    if pol:
        md.append(f"- Rate sweep with the policy: direct reclaim first appears at "
                  + (f"**{first} MiB/s**" if first is not None else
                     f"**no rate up to {summary['sweep_max_rate_mibps']} MiB/s**")
                  + " (requested rate; achieved rates in the table).")
    md += ["", "## Configurations", "",
           f"Main runs: batch rate {m.get('rate_mibps')} MiB/s, limit {m.get('limit_mib')} MiB, "
           f"{m.get('duration_s')} s measured window per run, {summary['reps']} interleaved repetitions. "
           "Latencies: median over repetitions of each run's percentile (per-repetition values in "
           "brackets). Counters: deltas over the window, median over repetitions.", "",
           "| config | ops | p50 | p99 | p99.9 | max | lateness p99 | pgscan_direct | pgsteal_direct | "
           "events max / high | memory PSI some cgroup / critical (ms) | bg_cpu_usec | cpu.stat system_usec | pgsteal_background | "
           "batch MiB/s | crit majflt |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c, s in configs.items():
        md.append(
            f"| {CONFIG_TEXT.get(c, c)} | {f(s['ops'])} | {us(s['p50_us'])} | {us(s['p99_us'])} "
            f"[{', '.join(us(x) for x in s['p99_us_per_rep'])}] | {us(s['p999_us'])} | {us(s['max_us'])} | "
            f"{us(s['lateness_p99_us'])} | {f(s.get('pgscan_direct'))} | {f(s.get('pgsteal_direct'))} | "
            f"{f(s.get('events_max'))} / {f(s.get('events_high'))} | {ms(s.get('memory_psi_some_total_usec'))} / "
            f"{ms(s.get('crit_memory_psi_some_total_usec'))} | {f(s.get('bg_cpu_usec'))} | "
            f"{f(s.get('system_usec'))} | {f(s.get('pgsteal_background'))} | {f(s['batch_mibps'], 1)} | "
            f"{f(s['crit_majflt'])} |")
    if sweep:
        md += ["", "## Rate sweep", "",
               f"One configuration per rate, {m.get('sweep_duration_s')} s window, "
               f"{m.get('sweep_reps')} run(s) per rate.", "",
               "| config | requested MiB/s | achieved MiB/s | pgscan_direct | pgsteal_direct | events max | "
               "pgsteal_background | bg_cpu_usec | bg_backoffs | critical memory stall (ms) | p50 | p99 | p99.9 | lateness p99 |",
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for s in sweep:
            md.append(
                f"| {CONFIG_TEXT.get(s['config'], s['config'])} | {s['rate_mibps']} | {f(s['batch_mibps'], 1)} | "
                f"{f(s.get('pgscan_direct'))} | {f(s.get('pgsteal_direct'))} | {f(s.get('events_max'))} | "
                f"{f(s.get('pgsteal_background'))} | {f(s.get('bg_cpu_usec'))} | {f(s.get('bg_backoffs'))} | "
                f"{ms(s.get('crit_memory_psi_some_total_usec'))} | {us(s['p50_us'])} | {us(s['p99_us'])} | {us(s['p999_us'])} | {us(s['lateness_p99_us'])} |")
    md += ["", "## Method", "",
           "`latency` (bench/latency/latency.c, static) runs in a fresh cgroup per run as two processes:",
           f"a **batch** process (pinned to CPU 0) keeps a {m.get('ws_mib')} MiB working set that it "
           f"re-touches every second and writes a {m.get('ring_mib')} MiB ring of anonymous memory at a "
           "steady rate (checked every millisecond, at most 50 ms of backlog caught up); before a ring "
           "chunk is written again it is dropped with MADV_DONTNEED, so every page written is a new "
           "charge, the oldest ring pages are the cold ones (swapped to zram when the limit is below "
           "the total) and swap use stays bounded. Pages carry non-zero data (a random word per cache "
           "line: zero pages never reach zram); MADV_NOHUGEPAGE everywhere. It first writes "
           f"{m.get('prefill_mib')} MiB of the ring as fast as it can, so that usage reaches the limit; "
           f"the window starts {m.get('settle_s')} s later. The **critical** process (pinned to CPU 1) "
           f"maps {m.get('buf_kib')} KiB, writes one word per page and unmaps it every "
           f"{m.get('period_us')} µs (absolute deadlines; a late operation skips the deadlines it missed, "
           "counted) — one fault and one memcg charge per page; each operation is timed with "
           "CLOCK_MONOTONIC. *Lateness* is start minus deadline: pure scheduling delay (vCPU preempted "
           "by the host, CPU contention in the guest), the noise floor of this VM.",
           "",
           "Configurations, each in its own cgroup, interleaved (rep 0 in the order of the table, rep 1 "
           "reversed, ...) in one boot of the memcg_ext kernel: **no limit**; **stock memory.max** and "
           "**stock memory.high** (no policy attached: memcg_ext's static key is off, enforcement is "
           "stock); **memcg_ext** = memory.max plus `memcg_ext_bgreclaim -c CGROUP -q"
           + (f" {m.get('policy_args')}" if m.get('policy_args') else "") +
           "` started from the root cgroup just before the run and stopped (SIGINT) after it; the "
           "policy's per-cgroup totals are in the JSON (`runs[].policy_totals`).",
           "",
           "Direct reclaim = memory.stat `pgscan_direct`/`pgsteal_direct` of the cgroup over the window "
           "(stock memory.high's reclaim on return to user mode is counted as direct reclaim too: it runs "
           "in the allocating task); `events max/high` = memory.events deltas; memory PSI = memory.pressure \"some\" stall totals over the "
           "window of the whole cgroup and of the critical process's child cgroup alone (time its tasks stalled on memory: reclaim, "
           "throttling, swap-in), which unlike the latencies is not inflated by host preemption. Reclaim CPU: "
           "memory.ext.stat `bg_cpu_usec` (background reclaim, memcg_ext only) and cpu.stat "
           "`system_usec` of the cgroup, which includes the tasks' own kernel time (faults, direct "
           "reclaim) and, on memcg_ext, the background reclaim charged to the cgroup.",
           "",
           "## Caveats", "",
           "- QEMU TCG on a 2-core host shared with other VMs and kernel builds: absolute times are "
           "emulation times, and the host preempts vCPUs for milliseconds. The *lateness* column shows "
           "that noise per configuration; compare configurations within this boot, and treat "
           "differences smaller than the spread between repetitions as noise.",
           "- Guest CPU accounting under TCG counts time a vCPU was descheduled by the host as time of "
           "the task running on it: cpu.stat figures are inflated on a busy host.",
           "- The stock rows run on the memcg_ext kernel with no policy attached (same boot, so that "
           "they are comparable); the fastpath benchmark shows that kernel is stock-equivalent then.",
           "- p99.9 rests on ~0.1% of the operations of a run (a dozen samples per run).",
           ""]
    if invalid:
        md += ["## Invalid runs", ""] + [f"- {r.get('kind')} {r.get('config')} rep {r.get('rep')} "
                                         f"rate {r.get('rate_mibps')}" for r in invalid] + [""]
    if console_warn:
        md += ["## Kernel warnings on the console", "", "```"] + console_warn[:20] + ["```", ""]
    fails = [l for l in vmres if l.startswith("FAIL")]
    if fails:
        md += ["## Test-bed failures", ""] + [f"- `{l}`" for l in fails] + [""]
    md += ["Raw data: `latency.json` (every run: percentiles, histograms, counter deltas).", ""]
    with open(os.path.join(a.out_dir, "latency.md"), "w") as fh:
        fh.write("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
