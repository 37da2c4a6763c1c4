#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""inversion benchmark (P2): bench/results/inversion.{json,md} from the VM's inversion.jsonl.

usage: analyze.py --out-dir DIR --command CMD [--host-load B,A,NCPU]
                  [--results results.txt] [--console console.log] inversion.jsonl

Per variant and configuration (interleaved repetitions in one boot): the
high-priority side's latency p50/p99/max (median over the repetitions of
each run's exact percentile; "pooled" = from the merged histograms of all
its runs), the low side's work and reclaim counters, memory.peak and the
memory.current samples against memory.max + overdraft cap.
Exit status 0 when the report was written.
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
    "mcx": "memcg_ext_prio + memory.max + overdraft cap",
}
ORDER = ["none", "max", "high", "mcx"]
# What each variant's latency is: (result key, description).
LAT = {"pthread": ("wait", "high thread's mutex wait"),
       "fs": ("op", "high process's create+write+fsync+close")}
EXT_KEYS = ("txn_direct_reclaim", "txn_deferred", "overdraft_charges", "overdraft_peak",
            "overdraft_repaid", "oom_waits", "user_return_throttled", "user_return_throttled_ms",
            "user_return_postponed", "user_return_forgiven", "bg_reclaimed", "bg_cpu_usec")


def dist(runs, key):
    res = [r["result"].get(key) or {} for r in runs]
    s = {}
    for q in ("p50", "p90", "p99", "p999", "max", "mean"):
        vals = [x.get(f"{q}_us") for x in res]
        s[f"{q}_us"] = r3(med(vals))
        s[f"{q}_us_per_rep"] = [r3(v) for v in vals]
    s["n"] = sum(x.get("n", 0) for x in res)
    s["pooled"] = pooled([r["result"].get(key) for r in runs])
    return s


def summarize(variant, runs):
    res = [r["result"] for r in runs]
    s = {"variant": variant, "n": len(runs), "reps": sorted(r["rep"] for r in runs)}
    if variant == "pthread":
        s["wait"] = dist(runs, "wait")
        s["hold"] = dist(runs, "hold")
        s["lateness"] = dist(runs, "lateness")
        for k in ("waits", "missed_periods", "holds_per_s", "hold_mib_per_s", "churn_mibps"):
            s[k] = r3(med([x.get(k) for x in res]))
    else:
        s["op"] = dist(runs, "op")
        s["fsync"] = dist(runs, "fsync")
        s["lateness"] = dist(runs, "lateness")
        for k in ("ops", "missed_periods", "low_dirs_per_s", "low_files_per_s", "churn_mibps"):
            s[k] = r3(med([x.get(k) for x in res]))
        s["low_fs_errors"] = sum(x.get("low_fs_errors", 0) for x in res)
    s["memory_peak_per_rep"] = [x.get("memory_peak") for x in res]
    s["memory_peak_max"] = max((x.get("memory_peak") or 0 for x in res), default=None)
    s["memory_peak"] = med([x.get("memory_peak") for x in res])
    s["current_max"] = max((x.get("current_max") or 0 for x in res), default=None)
    s["current_samples"] = sum(x.get("current_samples", 0) for x in res)
    s["current_over_cap"] = sum(x.get("current_over_cap", 0) for x in res)
    s["peak_over_cap"] = sum(1 for x in res if x.get("peak_over_cap"))
    s["cap_limit"] = med([x.get("cap_limit") for x in res])
    s["overdraft"] = med([x.get("overdraft") for x in res])
    for src, k in (("memory.stat", "pgscan_direct"), ("memory.stat", "pgsteal_direct"),
                   ("memory.stat", "pgscan_background"), ("memory.stat", "pswpout"),
                   ("memory.events", "max"), ("memory.events", "high"), ("memory.events", "oom"),
                   ("memory.events", "oom_kill"), ("memory.pressure", "some_total_usec"),
                   ("cpu.stat", "system_usec")):
        vals = [delta(r, src, k) for r in runs]
        if all(v is None for v in vals):
            continue
        name = {"memory.events": "events_", "memory.pressure": "memory_psi_"}.get(src, "") + k
        s[name] = med(vals)
        s[name + "_per_rep"] = vals
    for k in EXT_KEYS:
        vals = [delta(r, "memory.ext.stat", k) for r in runs]
        if not all(v is None for v in vals):
            s[k] = med(vals)
            s[k + "_per_rep"] = vals
        tots = [(x.get("ext_stat_end") or {}).get(k) for x in res]
        if not all(v is None for v in tots):
            s[k + "_run_total"] = med(tots)
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
        sys.exit("inversion: no meta line: the VM run did not start the benchmark")
    runs = [r for r in recs if r.get("type") == "run"]
    policy = [r for r in recs if r.get("type") == "policy"]
    valid = [r for r in runs if r.get("valid") and r.get("result")]
    invalid = [r for r in runs if r not in valid]

    by = {}
    for r in valid:
        by.setdefault((r["variant"], r["config"]), []).append(r)
    configs = {}
    for v in ("pthread", "fs"):
        cs = {c: summarize(v, by[(v, c)]) for c in ORDER if (v, c) in by}
        if cs:
            configs[v] = cs

    def g(v, c, key, q="p99_us"):
        s = configs.get(v, {}).get(c)
        if s is None:
            return None
        if key is None:
            return s.get(q)
        return s[key].get(q)

    summary = {
        "p99_stock_over_mcx": r3(ratio(g("pthread", "max", "wait"), g("pthread", "mcx", "wait"))),
        "p99_mcx_over_floor": r3(ratio(g("pthread", "mcx", "wait"), g("pthread", "none", "wait"))),
        "p99_high_over_mcx": r3(ratio(g("pthread", "high", "wait"), g("pthread", "mcx", "wait"))),
        "kernel_p99_stock_over_mcx": r3(ratio(g("fs", "max", "op"), g("fs", "mcx", "op"))),
        "kernel_p99_mcx_over_floor": r3(ratio(g("fs", "mcx", "op"), g("fs", "none", "op"))),
        "kernel_p99_high_over_mcx": r3(ratio(g("fs", "high", "op"), g("fs", "mcx", "op"))),
        "kernel_fsync_p99_stock_over_mcx": r3(ratio(g("fs", "max", "fsync"), g("fs", "mcx", "fsync"))),
    }
    # Pooled over all repetitions' samples (histograms).
    def gp(v, c, key):
        s = configs.get(v, {}).get(c)
        return None if s is None else s[key]["pooled"].get("p99_us")
    summary["p99_stock_over_mcx_pooled"] = r3(ratio(gp("pthread", "max", "wait"), gp("pthread", "mcx", "wait")))
    summary["p99_mcx_over_floor_pooled"] = r3(ratio(gp("pthread", "mcx", "wait"), gp("pthread", "none", "wait")))
    summary["kernel_p99_stock_over_mcx_pooled"] = r3(ratio(gp("fs", "max", "op"), gp("fs", "mcx", "op")))
    # Cap violations: memcg_ext runs only (both variants), memory.current
    # samples above memory.max + cap, plus runs whose memory.peak was above it.
    mcx_runs = [r for r in valid if r["config"] == "mcx"]
    summary["cap_violations"] = (sum(r["result"].get("current_over_cap", 0) for r in mcx_runs)
                                 + sum(1 for r in mcx_runs if r["result"].get("peak_over_cap")))
    summary["cap_samples"] = sum(r["result"].get("current_samples", 0) for r in mcx_runs)
    summary["cap_mib"] = meta.get("cap_mib")
    summary["limit_mib"] = meta.get("limit_mib")
    for v, cs in configs.items():
        key = LAT[v][0]
        for c, s in cs.items():
            for q in ("p50_us", "p99_us", "max_us"):
                summary[f"{v}_{key}_{q}_{c}"] = s[key][q]
            if v == "fs":
                summary[f"fs_fsync_p99_us_{c}"] = s["fsync"]["p99_us"]
                summary[f"fs_low_dirs_per_s_{c}"] = s.get("low_dirs_per_s")
                for k in ("txn_direct_reclaim", "txn_deferred"):
                    if s.get(k) is not None:
                        summary[f"{k}_{c}"] = s[k]
            else:
                summary[f"pthread_hold_p99_us_{c}"] = s["hold"]["p99_us"]
                summary[f"pthread_holds_per_s_{c}"] = s.get("holds_per_s")
            summary[f"{v}_memory_peak_{c}"] = s.get("memory_peak_max")
            summary[f"{v}_pgscan_direct_{c}"] = s.get("pgscan_direct")
    summary["reps"] = min((s["n"] for cs in configs.values() for s in cs.values()), default=0)
    summary["invalid_runs"] = len(invalid)
    summary["kernel_warnings"] = sum(r.get("kernel_warnings", 0) for r in runs)
    complete = all(summary[k] is not None for k in
                   ("p99_stock_over_mcx", "p99_mcx_over_floor", "kernel_p99_stock_over_mcx"))

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
        pat = re.compile(r"WARNING:|BUG:|Oops|soft lockup|rcu_.* detected stalls|Call Trace|"
                         r"blocked for more than")
        for l in open(a.console, encoding="utf-8", errors="replace"):
            if pat.search(l) and not l.startswith("[bench_inversion]"):
                console_warn.append(l.rstrip("\n")[:300])
    summary["console_warning_lines"] = len(console_warn)

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    doc = {
        "benchmark": "inversion",
        "date": now.isoformat(),
        "command": a.command,
        "commit": commit,
        "status": "complete" if complete else "partial",
        "summary": summary,
        "method": {
            "p99": "median over repetitions of each run's exact (nearest-rank) percentile; pooled = "
                   "from the merged histograms (upper bucket bound, 6% resolution)",
            "pthread": "high thread's wait for the mutex (pthread_mutex_lock call to return), "
                       "every period_us, while a low thread holds it around touching 1-4 MiB "
                       "of fresh anonymous memory in a cgroup at its limit",
            "fs": "high process (unlimited cgroup) create+write+fsync+close latency on ext4 "
                  "(journal) while a low process at its limit does mkdir + small file creates",
            "cap_violations": "memcg_ext runs: memory.current samples (every sample_ms during the "
                              "window) above memory.max + memory.ext.overdraft, plus runs whose "
                              "memory.peak (whole run) was above it",
            "txn": "memory.ext.stat txn_direct_reclaim / txn_deferred deltas of the low cgroup "
                   "over the window (fs variant), median over repetitions",
        },
        "meta": meta,
        "end": end,
        "host_load": host,
        "vm_results": vmres,
        "console_warnings": console_warn[:50],
        "configs": configs,
        "policy": policy,
        "runs": runs,
    }
    os.makedirs(a.out_dir, exist_ok=True)
    jpath = os.path.join(a.out_dir, "inversion.json")
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

    def us(x):
        if x is None:
            return "n/a"
        return f"{x / 1000:.1f} ms" if x >= 1000 else f"{x:.0f} µs"

    def mib(x):
        return "n/a" if x is None else f"{x / 1048576:.1f}"

    m = meta
    md = ["<!-- SPDX-License-Identifier: GPL-2.0 -->",
          "# Benchmark: inversion (P2) — priority inversion through reclaim", "",
          f"- Date: {now.strftime('%Y-%m-%d %H:%M UTC')}" + (f", commit {commit}" if commit else ""),
          f"- Command: `{a.command}`",
          f"- Kernel: {m.get('kernel')} ({m.get('uname')}), {m.get('cpus')} vCPUs, QEMU TCG, "
          f"LRU {m.get('lru') or 'default'}, THP `{m.get('thp')}`, zram swap `{(m.get('zram_comp') or '').strip()}`",
          f"- Host load (1-min average, {host['ncpu'] if host else '?'} CPUs): "
          + (f"{host['before']} before, {host['after']} after the boot" if host else "n/a"),
          f"- Status: {doc['status']}; invalid runs: {len(invalid)}; kernel warning lines on the "
          f"console: {len(console_warn)}",
          "",
          "## Result", ""]
    pt, fs = configs.get("pthread", {}), configs.get("fs", {})
    if pt:
        md.append(f"- pthread: **p99_stock_over_mcx = {summary['p99_stock_over_mcx']}** (stock memory.max "
                  f"p99 wait {us(g('pthread', 'max', 'wait'))} / memcg_ext {us(g('pthread', 'mcx', 'wait'))}); "
                  f"**p99_mcx_over_floor = {summary['p99_mcx_over_floor']}** (no limit "
                  f"{us(g('pthread', 'none', 'wait'))}); stock memory.high / memcg_ext "
                  f"{summary['p99_high_over_mcx']}. Pooled: {summary['p99_stock_over_mcx_pooled']} / "
                  f"{summary['p99_mcx_over_floor_pooled']}.")
    if fs:
        md.append(f"- ext4: **kernel_p99_stock_over_mcx = {summary['kernel_p99_stock_over_mcx']}** "
                  f"(stock memory.max p99 op {us(g('fs', 'max', 'op'))} / memcg_ext "
                  f"{us(g('fs', 'mcx', 'op'))}); memcg_ext / floor {summary['kernel_p99_mcx_over_floor']} "
                  f"(no limit {us(g('fs', 'none', 'op'))}); fsync alone stock/memcg_ext "
                  f"{summary['kernel_fsync_p99_stock_over_mcx']}. Pooled: "
                  f"{summary['kernel_p99_stock_over_mcx_pooled']}.")
    md.append(f"- **cap_violations = {summary['cap_violations']}** (memcg_ext runs: "
              f"{summary['cap_samples']} memory.current samples and every run's memory.peak checked "
              f"against memory.max {m.get('limit_mib')} MiB + cap {m.get('cap_mib')} MiB).")
    if not complete:
        md.append("- Incomplete: a configuration needed for the ratios has no valid run.")
    if pt:
        md += ["", "## pthread variant: the high thread's mutex wait", "",
               f"{m.get('duration_s')} s window per run, a wait sample every {m.get('period_us')} µs. "
               "Latencies: median over repetitions of each run's percentile (per-repetition p99 in "
               "brackets). hold = the low thread's time inside the lock (touching the fresh memory). "
               "Counters: deltas over the window, median over repetitions; memory.peak: highest over "
               "the repetitions (whole run).", "",
               "| config | waits | wait p50 | wait p99 | wait max | hold p50 | hold p99 | holds/s | "
               "lateness p99 | pgscan_direct | events max / high | memory.peak MiB | current > cap |",
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for c, s in pt.items():
            md.append(
                f"| {CONFIG_TEXT.get(c, c)} | {f(s['wait']['n'])} | {us(s['wait']['p50_us'])} | "
                f"{us(s['wait']['p99_us'])} [{', '.join(us(x) for x in s['wait']['p99_us_per_rep'])}] | "
                f"{us(s['wait']['max_us'])} | {us(s['hold']['p50_us'])} | {us(s['hold']['p99_us'])} | "
                f"{f(s.get('holds_per_s'), 1)} | {us(s['lateness']['p99_us'])} | {f(s.get('pgscan_direct'))} | "
                f"{f(s.get('events_max'))} / {f(s.get('events_high'))} | {mib(s.get('memory_peak_max'))} | "
                f"{s['current_over_cap']}/{s['current_samples']} |")
    if fs:
        md += ["", "## ext4 variant: the high process's create + write + fsync", "",
               f"{m.get('duration_s')} s window per run, an operation every {m.get('fs_period_us')} µs "
               f"({m.get('high_file_kib')} KiB files). txn_* = memory.ext.stat of the low cgroup over "
               "the window: direct reclaims run inside a file-system transaction, and charges inside "
               "one that the policy deferred.", "",
               "| config | ops | op p50 | op p99 | op max | fsync p99 | lateness p99 | low dirs/s | "
               "txn_direct_reclaim | txn_deferred | pgscan_direct | events max / high | memory.peak MiB | current > cap |",
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for c, s in fs.items():
            md.append(
                f"| {CONFIG_TEXT.get(c, c)} | {f(s['op']['n'])} | {us(s['op']['p50_us'])} | "
                f"{us(s['op']['p99_us'])} [{', '.join(us(x) for x in s['op']['p99_us_per_rep'])}] | "
                f"{us(s['op']['max_us'])} | {us(s['fsync']['p99_us'])} | {us(s['lateness']['p99_us'])} | "
                f"{f(s.get('low_dirs_per_s'), 1)} | {f(s.get('txn_direct_reclaim'))} | "
                f"{f(s.get('txn_deferred'))} | {f(s.get('pgscan_direct'))} | "
                f"{f(s.get('events_max'))} / {f(s.get('events_high'))} | {mib(s.get('memory_peak_max'))} | "
                f"{s['current_over_cap']}/{s['current_samples']} |")
    if policy:
        md += ["", "## Policy totals (memcg_ext_prio, per rep)", ""]
        for p in policy:
            md.append(f"- rep {p.get('rep')} (exit {p.get('exit')}): `{p.get('totals') or 'none'}`")
    md += ["", "## Method", "",
           "`inversion` (bench/inversion/inversion.c, static, linked with the client library) in "
           "one memcg_ext-kernel boot. Every configuration gets a fresh cgroup tree "
           "`bench-inv-CONF-REP/{pt,fslow,fshigh}`; the limits are on `pt` and `fslow` "
           f"({m.get('limit_mib')} MiB), `fshigh` has none. Memory load of the limited side, both "
           f"variants: a {m.get('ballast_mib')} MiB anonymous ballast, written once and mlocked "
           f"(resident, unevictable), and a {m.get('ring_mib')} MiB ring of anonymous memory written "
           "once (the prefill), which puts the cgroup at its limit: only the ring (swapped to zram: "
           "non-zero data, MADV_NOHUGEPAGE) and what is allocated next can be reclaimed. Each 256 KiB "
           "ring chunk is dropped with MADV_DONTNEED before it is written again, so every ring page "
           f"written is a new charge. The window starts {m.get('settle_s')} s after the prefill.",
           "",
           f"- **pthread**: in the same process a low thread takes a pthread mutex, touches "
           f"{m.get('hold_min_kib')}-{m.get('hold_max_kib')} KiB of fresh anonymous memory "
           "(random sizes, the same sequence in every run: one fault and one charge per page), "
           "unlocks, drops the buffer (MADV_DONTNEED), writes as many fresh ring pages (the "
           "cgroup is back at its limit: every page of the next hold needs reclaim) and sleeps "
           f"{m.get('gap_us')} µs; a high "
           f"thread takes the mutex every {m.get('period_us')} µs and times the lock call "
           "(CLOCK_MONOTONIC). Low thread (fs: low process and its ring thread) on CPU "
           f"{m.get('low_cpu')}, high thread/process on CPU {m.get('high_cpu')}. "
           "In memcg_ext the low thread locks with `mx_mutex_lock()`/`mx_mutex_unlock()` "
           "(client/include/memcg_ext/thread.h: its thread word says \"in a critical section\"), "
           "the low thread registers as class normal and the high thread as class never "
           "(`mx_thread_register(NULL)`); the stock configurations run plain "
           "pthread_mutex_lock/unlock without registration.",
           f"- **ext4**: an ext4 file system with a journal ({m.get('image')}) on a zram disk, "
           "fresh from the image every run (the busybox mke2fs in the VM makes no journal, so the "
           "host makes the image). A low process in `fslow` (ballast and ring as above"
           + (f", plus a thread writing the ring at {m.get('fs_churn_rate_mibps')} MiB/s"
              if m.get('fs_churn_rate_mibps') else "") + ") loops: mkdir "
           f"a new directory, create and write {m.get('fs_files')} files of 512 B-4 KiB in it — the "
           "charges for new inodes and directory/metadata blocks happen inside jbd2 handles, and "
           "at the limit so does their reclaim. A high process in `fshigh` (no limit) creates a file, "
           f"writes {m.get('high_file_kib')} KiB, fsyncs and closes it every "
           f"{m.get('fs_period_us')} µs and times the operation; its fsync commits the running "
           "transaction, which waits until every open handle (the low process's too) is closed.",
           "",
           "Unbound workqueues (memcg_ext background reclaim, writeback) are confined to CPU "
           f"mask {m.get('wq_cpumask') or 'n/a'} (/sys/devices/virtual/workqueue/cpumask), the low "
           "side's CPU, in every configuration: with two vCPUs, background reclaim on the high "
           "side's CPU would otherwise show up as CPU contention in the high side's latency.",
           "",
           "Configurations, interleaved (rep 0 in the order of the tables, rep 1 reversed, ...): "
           "**no limit**; **stock memory.max** and **stock memory.high** (no policy attached: "
           "memcg_ext's static key is off, enforcement is stock); **memcg_ext** = memory.max plus "
           f"`memcg_ext_prio -q -c pt:{m.get('t1_mib')}M:-:- -c fslow:{m.get('t1_mib')}M:-:- -o "
           f"{(m.get('cap_mib') or 0) * 1048576}` (T1 background reclaim, T2/T3 off, "
           f"memory.ext.overdraft = {m.get('cap_mib')} MiB) started from the root cgroup before the "
           "rep's two runs and stopped (SIGINT) after them.",
           "",
           "cap_violations: during every memcg_ext window the driver reads memory.current every "
           f"{m.get('sample_ms')} ms and counts samples above memory.max + memory.ext.overdraft; "
           "after the run it reads memory.peak (the whole run, prefill included) and counts the run "
           "if it is above. memory.peak per configuration is in the tables.",
           "",
           "## Caveats", "",
           "- QEMU TCG on a 2-core host shared with other VMs and kernel builds: absolute times are "
           "emulation times, and the host preempts vCPUs for milliseconds (the *lateness* columns: "
           "how late the high side started its operation, pure scheduling noise). Compare "
           "configurations within this boot; differences smaller than the spread between "
           "repetitions are noise.",
           "- The floor's wait is not zero: the high thread still waits for a low thread's hold in "
           "progress (page faults of up to 4 MiB), only without reclaim in it.",
           "- The stock rows run on the memcg_ext kernel with no policy attached (same boot).",
           "- The low side's own throughput differs between configurations (holds/s, low dirs/s "
           "in the tables): with the policy it pays for its reclaim after the lock or the "
           "transaction instead of inside it, and in the ext4 variant it gets more work done, "
           "which puts more load on the journal the high process waits for.",
           ""]
    if invalid:
        md += ["## Invalid runs", ""] + [f"- {r.get('variant')} {r.get('config')} rep {r.get('rep')}"
                                         for r in invalid] + [""]
    if console_warn:
        md += ["## Kernel warnings on the console", "", "```"] + console_warn[:20] + ["```", ""]
    fails = [l for l in vmres if l.startswith("FAIL")]
    if fails:
        md += ["## Test-bed failures", ""] + [f"- `{l}`" for l in fails] + [""]
    md += ["Raw data: `inversion.json` (every run: percentiles, histograms, counter deltas).", ""]
    with open(os.path.join(a.out_dir, "inversion.md"), "w") as fh:
        fh.write("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
