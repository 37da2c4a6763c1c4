# SPDX-License-Identifier: GPL-2.0
"""Helpers the benchmarks' analyze.py scripts share: medians and ratios that
tolerate missing values, and quantiles of pooled histograms as written by
print_dist() in bench/lib/bench.c."""
import statistics


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    return None if a is None or not b else a / b


def r3(x):
    return None if x is None else round(x, 3)


def hist_bounds(i, sub):
    """[lo, hi) in ns of bucket i of bench.c's log-linear histogram."""
    if i < sub:
        return float(i), float(i + 1)
    k, j = divmod(i, sub)
    return 2.0 ** k * (1 + j / sub), 2.0 ** k * (1 + (j + 1) / sub)


def pooled(dists, qs=(0.5, 0.99)):
    """Quantiles (us, upper bucket bound) of the merged histograms of the
    distributions @dists (print_dist() objects; None entries skipped), as
    {"n", "p50_us", "p99_us", ...} with one pNN_us key per quantile."""
    h, sub = {}, 16
    for d in dists:
        d = d or {}
        sub = d.get("hist_sub", 16)
        for k, v in d.get("hist", {}).items():
            h[int(k)] = h.get(int(k), 0) + v
    n = sum(h.values())
    if not n:
        return {}
    out, acc, ti, targets = {}, 0, 0, sorted(qs)
    for k in sorted(h):
        acc += h[k]
        while ti < len(targets) and acc >= targets[ti] * n:
            out[targets[ti]] = hist_bounds(k, sub)[1] / 1e3
            ti += 1
    res = {"n": n}
    for q in qs:
        res["p%s_us" % str(q)[2:].ljust(2, "0")] = r3(out.get(q))
    return res


def delta(r, src, key):
    """Counter @key of source @src in a run's "delta" object, or None."""
    d = (r["result"].get("delta") or {}).get(src)
    if d is None or key not in d:
        return None
    return d[key]
