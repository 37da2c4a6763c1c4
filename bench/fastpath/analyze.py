#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the fastpath benchmark's JSON lines into bench/results/fastpath.{json,md}.

usage: analyze.py --out-dir DIR --command CMD [--target 1.02] \
                  [--kernel-log NAME=PATH ...] NAME=JSONL ...

Each NAME=JSONL is the output of one VM boot (run-guest.sh): NAME is the
kernel (memcg_ext, stock). Runs marked "valid": false are dropped, and
reported. Exit status 0 when the report was written, 1 on missing data.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

PRIMARY = "anon"
ESTIMATORS = {"chunk_p10": "ns_per_fault_chunk_p10", "pass_min": "ns_per_fault_min",
              "pass_median": "ns_per_fault_median"}
EST_TEXT = {"chunk_p10": "10th percentile of the run's 64-page chunks",
            "pass_min": "the run's fastest pass", "pass_median": "the run's median pass"}


def quantiles(v):
    """min, q1, median, q3, max of a list (q1/q3: inclusive method)."""
    v = sorted(v)
    if len(v) == 1:
        return v[0], v[0], v[0], v[0], v[0]
    q = statistics.quantiles(v, n=4, method="inclusive")
    return v[0], q[0], statistics.median(v), q[2], v[-1]


def load(path):
    meta, end, runs, bad = None, None, [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                o = json.loads(line)
            except ValueError as e:
                sys.exit(f"{path}:{n}: not JSON ({e}): {line[:120]}")
            t = o.get("type")
            if t == "meta":
                meta = o
            elif t == "end":
                end = o
            elif t == "run":
                (runs if o.get("valid") else bad).append(o)
    return meta, end, runs, bad


def r4(x):
    return None if x is None else round(x, 4)


def per_mode(by):
    """by[mode][state][rep] = ns/fault of one run: statistics per mode."""
    modes = {}
    for mode, states in sorted(by.items()):
        m = {"states": {}}
        for st, reps in sorted(states.items()):
            mn, q1, med, q3, mx = quantiles(list(reps.values()))
            m["states"][st] = {"n": len(reps), "ns_per_fault_median": round(med, 2),
                               "ns_per_fault_q1": round(q1, 2), "ns_per_fault_q3": round(q3, 2),
                               "ns_per_fault_min": round(mn, 2), "ns_per_fault_max": round(mx, 2)}
        idle, pt, stock = states.get("idle"), states.get("passthrough"), states.get("stock")
        if idle and pt:
            paired = [pt[i] / idle[i] for i in sorted(set(idle) & set(pt))]
            mn, q1, med, q3, mx = quantiles(paired)
            m["overhead_ratio"] = r4(statistics.median(pt.values()) / statistics.median(idle.values()))
            m["overhead_ratio_paired_median"] = r4(med)
            m["overhead_ratio_min"], m["overhead_ratio_max"] = r4(mn), r4(mx)
            m["overhead_ratio_q1"], m["overhead_ratio_q3"] = r4(q1), r4(q3)
            m["overhead_ratio_per_rep"] = [r4(x) for x in paired]
        if idle and stock:
            smed = statistics.median(stock.values())
            # Different boots: the spread is that of idle runs against the
            # stock median, not of pairs.
            per = [idle[i] / smed for i in sorted(idle)]
            m["idle_vs_stock_ratio"] = r4(statistics.median(idle.values()) / smed)
            m["idle_vs_stock_ratio_min"], m["idle_vs_stock_ratio_max"] = r4(min(per)), r4(max(per))
        root = states.get("root")
        if stock and root:
            smed, rmed = statistics.median(stock.values()), statistics.median(root.values())
            # The whole memcg charge (try_charge, which the root cgroup
            # skips) per fault, on the stock kernel: the part of a fault
            # that memcg_ext could make slower.
            m["charge_cost_ns_per_fault"] = round(smed - rmed, 2)
            m["charge_cost_share"] = r4((smed - rmed) / smed)
            per = [(stock[i] - root[i]) / stock[i] for i in sorted(set(stock) & set(root))]
            m["charge_cost_share_min"], m["charge_cost_share_max"] = r4(min(per)), r4(max(per))
        modes[mode] = m
    return modes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--target", type=float, default=1.02)
    ap.add_argument("--name", default="fastpath")
    ap.add_argument("--host-load", action="append", default=[],
                    help="KERNEL=LOAD_BEFORE,LOAD_AFTER,NCPU: host load average around that boot")
    ap.add_argument("inputs", nargs="+", help="KERNEL=path/to/fastpath.jsonl")
    a = ap.parse_args()

    # est[name][mode][state][rep] = ns/fault of a run by each estimator:
    #   chunk_p10    10th percentile of its 64-page chunks (primary: under
    #                TCG the host preempts the vCPU for milliseconds, and
    #                contention only ever adds time)
    #   pass_min     its fastest timed pass
    #   pass_median  its median timed pass
    est = {name: {} for name in ESTIMATORS}
    boots = {}
    invalid = []
    for spec in a.inputs:
        kernel, _, path = spec.partition("=")
        meta, end, runs, bad = load(path)
        if meta is None or end is None:
            sys.exit(f"{path}: incomplete output (no meta or end line): the VM run did not finish")
        # Noise inside runs: median over runs of (median pass / fastest pass).
        spread = [r["result"]["ns_per_fault_median"] / r["result"]["ns_per_fault_min"]
                  for r in runs if r["result"].get("ns_per_fault_min")]
        boots[kernel] = {"meta": meta, "end": end,
                         "pass_spread": r4(statistics.median(spread)) if spread else None,
                         "runs": runs + bad}
        invalid += bad
        for r in runs:
            res = r["result"]
            for name, key in ESTIMATORS.items():
                if key in res:
                    est[name].setdefault(res["mode"], {}).setdefault(r["state"], {})[res["rep"]] = res[key]

    nruns = sum(len(b["runs"]) for b in boots.values()) - len(invalid)
    complete_est = [n for n in ESTIMATORS
                    if sum(len(x) for st in est[n].values() for x in st.values()) == nruns]
    primary_est = complete_est[0]
    by_est = {n: per_mode(est[n]) for n in complete_est}
    modes = by_est[primary_est]

    if PRIMARY not in modes:
        sys.exit(f"no valid {PRIMARY} runs")
    p = modes[PRIMARY]
    reps = min(s["n"] for s in p["states"].values())
    summary = {
        "overhead_ratio": p.get("overhead_ratio"),
        "overhead_ratio_min": p.get("overhead_ratio_min"),
        "overhead_ratio_max": p.get("overhead_ratio_max"),
        "overhead_ratio_q1": p.get("overhead_ratio_q1"),
        "overhead_ratio_q3": p.get("overhead_ratio_q3"),
        "overhead_ratio_paired_median": p.get("overhead_ratio_paired_median"),
        "idle_vs_stock_ratio": p.get("idle_vs_stock_ratio"),
        "idle_vs_stock_ratio_min": p.get("idle_vs_stock_ratio_min"),
        "idle_vs_stock_ratio_max": p.get("idle_vs_stock_ratio_max"),
        "reps": reps,
        "target_overhead_ratio": a.target,
    }
    summary["charge_cost_share"] = p.get("charge_cost_share")
    summary["charge_cost_ns_per_fault"] = p.get("charge_cost_ns_per_fault")
    for st in ("idle", "passthrough", "stock", "root"):
        if st in p["states"]:
            summary[f"ns_per_fault_{st}"] = p["states"][st]["ns_per_fault_median"]
    for mode, m in modes.items():
        if mode == PRIMARY:
            continue
        for k in ("overhead_ratio", "overhead_ratio_min", "overhead_ratio_max", "idle_vs_stock_ratio",
                  "charge_cost_share"):
            if k in m:
                summary[f"{mode}_{k}"] = m[k]
    for n in complete_est:
        if n == primary_est:
            continue
        pm = by_est[n][PRIMARY]
        summary[f"overhead_ratio_by_{n}"] = pm.get("overhead_ratio")
        summary[f"overhead_ratio_by_{n}_min"] = pm.get("overhead_ratio_min")
        summary[f"overhead_ratio_by_{n}_max"] = pm.get("overhead_ratio_max")
        summary[f"idle_vs_stock_ratio_by_{n}"] = pm.get("idle_vs_stock_ratio")
    summary["invalid_runs"] = len(invalid)
    # ops.charge() calls the pass-through policy counted, summed over its
    # attaches ("charge events: high=0 swap_high=0 max=0" per attach): 0
    # means no policy code ran while the benchmark charged.
    hook, attaches = {}, 0
    for b in boots.values():
        for part in (b["end"].get("policy_charge_events") or "").split(";"):
            if "charge events:" not in part:
                continue
            attaches += 1
            for kv in part.split(":", 1)[1].split():
                k, _, v = kv.partition("=")
                if v.isdigit():
                    hook[k] = hook.get(k, 0) + int(v)
    if attaches:
        summary["policy_attaches"] = attaches
        summary["policy_hook_calls"] = sum(hook.values())
    complete = summary["overhead_ratio"] is not None and summary["idle_vs_stock_ratio"] is not None
    meets = complete and summary["overhead_ratio"] <= a.target

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    anymeta = next(iter(boots.values()))["meta"]
    for hl in a.host_load:
        k, _, v = hl.partition("=")
        if k in boots:
            before, after, ncpu = (float(x) for x in v.split(","))
            boots[k]["host_load"] = {"before": before, "after": after, "ncpu": int(ncpu)}
    noisy = [k for k, b in boots.items()
             if (b.get("pass_spread") or 1) > 1.10
             or ("host_load" in b and max(b["host_load"]["before"], b["host_load"]["after"])
                 > 0.75 * b["host_load"]["ncpu"])]
    summary["pass_spread_max"] = max((b["pass_spread"] for b in boots.values()
                                      if b.get("pass_spread")), default=None)
    doc = {
        "benchmark": a.name,
        "date": now.isoformat(),
        "command": a.command,
        "commit": commit,
        "status": "complete" if complete else "partial",
        "meets_target": meets,
        "conclusive": complete and not noisy,
        "noisy_boots": noisy,
        "summary": summary,
        "method": {
            "primary_mode": PRIMARY,
            "size_mib": anymeta.get("size_mib"), "iters": anymeta.get("iters"),
            "warmup": anymeta.get("warmup"), "cpu": anymeta.get("cpu"),
            "estimator": primary_est,
            "metric": f"ns per page fault of a run: {EST_TEXT[primary_est]} (over `iters` timed passes "
                      "after `warmup`); median over reps per state; modes_by_<estimator>: the others",
            "overhead_ratio": "median(passthrough) / median(idle), same boot, interleaved I P P I ...",
            "overhead_ratio_min_max_q": "over per-rep ratios passthrough[i] / idle[i]",
            "idle_vs_stock_ratio": "median(idle) / median(stock), separate boots; min/max over idle[i] / median(stock)",
            "charge_cost_share": "(median(stock) - median(root)) / median(stock), stock boot: the share of a "
                                 "fault spent in the memcg charge (the root cgroup skips try_charge)",
        },
        "modes": modes,
        **{f"modes_by_{n}": by_est[n] for n in complete_est if n != primary_est},
        "boots": boots,
    }
    os.makedirs(a.out_dir, exist_ok=True)
    jpath = os.path.join(a.out_dir, f"{a.name}.json")
    with open(jpath + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(jpath + ".tmp", jpath)

    def fmt(x, d=4):
        return "n/a" if x is None else f"{x:.{d}f}"

    md = ["<!-- SPDX-License-Identifier: GPL-2.0 -->",
          f"# Benchmark: {a.name} (memcg charge fast-path overhead)", "",
          f"- Date: {now.strftime('%Y-%m-%d %H:%M UTC')}" + (f", commit {commit}" if commit else ""),
          f"- Command: `{a.command}`",
          f"- Status: {doc['status']}; target overhead_ratio <= {a.target}: "
          + ("**met**" if meets else ("**not met**" if complete else "not evaluated"))
          + (" — **inconclusive**: the host was busy (see the warning below)" if complete and noisy else ""),
          "", "## Method", "",
          "memcg_ext hooks only the memcg charge slow path (a charge that leaves a memcg above "
          "memory.high or fails against memory.max). This benchmark checks that the fast path "
          "(per-cpu stock, charges under the limits) costs the same with and without a policy.",
          "",
          f"`fastpath` (bench/fastpath/fastpath.c, static) runs in a cgroup with memory.max=1G and "
          f"memory.high=max, pinned to CPU {anymeta.get('cpu')}. One pass maps {anymeta.get('size_mib')} MiB, "
          "writes one byte per 4 KiB page (MADV_NOHUGEPAGE: one fault and one page charge per page), and "
          "unmaps it; only the touch loop is timed (CLOCK_MONOTONIC). `anon`: private anonymous memory; "
          "`file`: a shared mapping of an unlinked tmpfs file (shmem page-cache charges). One run = "
          f"{anymeta.get('warmup')} warm-up + {anymeta.get('iters')} timed passes; the touch loop is also "
          "timed per 64-page chunk (one per-cpu stock refill each). A run's figure is "
          f"{EST_TEXT[primary_est]} in ns/fault (under TCG the host preempts the vCPU for milliseconds, "
          "and contention only ever adds time, so a low percentile of sub-millisecond chunks is the "
          "uncontended cost); a state's figure is the median over its runs. Other estimators are below "
          "and in the JSON (`modes_by_<estimator>`). "
          "Every run checks that memory.events high/max/oom did not move (fast path only) and that "
          "/sys/kernel/memcg_ext/state stayed as expected.",
          "",
          "States: **idle** = memcg_ext kernel, no policy (state `disabled`); **passthrough** = same boot, "
          "`memcg_ext_passthrough` attached (state `enabled`); idle and passthrough runs are interleaved "
          "I P P I I P P I ... in one boot. **stock** = unpatched 6.12 kernel, separate boot; in that boot "
          "**root** runs the same in the root cgroup, which skips try_charge (interleaved S R R S ...): "
          "stock − root is the cost of the whole memcg charge per fault, i.e. the benchmark's resolution. "
          "QEMU TCG, 2 vCPUs, 2 GiB: absolute times are emulation times; compare ratios only.",
          "", "## Results", ""]
    if noisy:
        md += [f"**Warning: noisy host during the {', '.join(noisy)} boot(s)** (host load average "
               "near or above its CPU count, or passes within a run differing by more than 10%): "
               "QEMU TCG shares the host CPUs, so these timings carry host contention. Re-run on an "
               "idle host for a tight spread.", ""]
    md += [
          f"{reps} repetitions per state; primary mode `{PRIMARY}`.", "",
          "| mode | idle ns/fault | passthrough ns/fault | stock ns/fault | root ns/fault | overhead_ratio (P/I) | per-rep P/I min–max (IQR) | idle_vs_stock (min–max) | charge share |",
          "|---|---|---|---|---|---|---|---|---|"]
    for mode, m in modes.items():
        s = m["states"]

        def ns(st):
            return f"{s[st]['ns_per_fault_median']:.0f}" if st in s else "n/a"
        spread = "n/a"
        if "overhead_ratio_min" in m:
            spread = (f"{fmt(m['overhead_ratio_min'], 3)}–{fmt(m['overhead_ratio_max'], 3)} "
                      f"({fmt(m['overhead_ratio_q1'], 3)}–{fmt(m['overhead_ratio_q3'], 3)})")
        ivs = "n/a"
        if "idle_vs_stock_ratio" in m:
            ivs = (f"{fmt(m['idle_vs_stock_ratio'])} ({fmt(m['idle_vs_stock_ratio_min'], 3)}–"
                   f"{fmt(m['idle_vs_stock_ratio_max'], 3)})")
        cshare = f"{100 * m['charge_cost_share']:.1f}%" if m.get("charge_cost_share") is not None else "n/a"
        md.append(f"| {mode} | {ns('idle')} | {ns('passthrough')} | {ns('stock')} | {ns('root')} | "
                  f"{fmt(m.get('overhead_ratio'))} | {spread} | {ivs} | {cshare} |")
    md += [""]
    for n in complete_est:
        if n != primary_est:
            md.append(f"- With {EST_TEXT[n]} instead: overhead_ratio "
                      f"{fmt(summary[f'overhead_ratio_by_{n}'])} (per-rep "
                      f"{fmt(summary[f'overhead_ratio_by_{n}_min'], 3)}–"
                      f"{fmt(summary[f'overhead_ratio_by_{n}_max'], 3)}), idle_vs_stock "
                      f"{fmt(summary[f'idle_vs_stock_ratio_by_{n}'])}.")
    cs = summary.get("charge_cost_share")
    if cs is not None and cs > 0 and p["charge_cost_share_min"] >= 0:
        md += ["", f"Resolution: on the stock kernel the memcg charge costs "
               f"{summary['charge_cost_ns_per_fault']:.0f} ns of a {summary['ns_per_fault_stock']:.0f} ns "
               f"fault ({100 * cs:.1f}%, per-rep {100 * p['charge_cost_share_min']:.1f}–"
               f"{100 * p['charge_cost_share_max']:.1f}%). A fast path made k times slower would show as "
               f"overhead_ratio ≈ 1 + (k − 1)·{cs:.3f}; the per-rep P/I spread above is the noise floor."]
    if cs is not None and (cs <= 0 or p["charge_cost_share_min"] < 0):
        md += ["", f"Resolution: the memcg charge's own cost is not resolved above the noise on the stock "
               f"kernel (stock − root = {summary['charge_cost_ns_per_fault']:.0f} ns/fault, "
               f"{100 * cs:.1f}%, per-rep {100 * p['charge_cost_share_min']:.1f}–"
               f"{100 * p['charge_cost_share_max']:.1f}%): under TCG a fault is dominated by emulation "
               "and page clearing, so only a gross fast-path regression would show in overhead_ratio."]
    md += ["", f"Invalid runs dropped: {len(invalid)}."]
    for r in invalid:
        md.append(f"- {r.get('kernel')}/{r.get('state')} rep {r['result'].get('rep')} "
                  f"{r['result'].get('mode')}: state {r.get('kstate_before')}→{r.get('kstate_after')}, "
                  f"memory.events delta {r.get('memcg_events_delta')}")
    md += ["", "Boots:"]
    for k, b in boots.items():
        mt, e = b["meta"], b["end"]
        hl = b.get("host_load")
        md.append(f"- {k}: kernel {mt.get('uname')}, {mt.get('cpus')} CPUs, THP `{mt.get('thp')}`, "
                  f"{e.get('seconds')} s of measurement, failures {e.get('failures')}, "
                  f"median pass spread (median/fastest) {fmt(b.get('pass_spread'), 3)}"
                  + (f", host load {hl['before']:.2f}→{hl['after']:.2f} on {hl['ncpu']} CPUs" if hl else "")
                  + (f", last_exit `{e.get('last_exit')}`" if k != "stock" else "")
)
    if "policy_hook_calls" in summary:
        md += [f"- The pass-through policy was attached {summary['policy_attaches']} times and its "
               f"ops.charge() ran {summary['policy_hook_calls']} times "
               f"({', '.join(f'{k}={v}' for k, v in hook.items())})"
               + (": the benchmark's charges never left the fast path." if not summary["policy_hook_calls"]
                  else ".")]
    md += ["", "Raw data: `fastpath.json` (every run, every pass)."]
    with open(os.path.join(a.out_dir, f"{a.name}.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
