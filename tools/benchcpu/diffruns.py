"""Compares two `layerscope importance --json` outputs of the same model and tokens (a build before a
change and after): prints the largest absolute difference of the NLL and of every metric's scores, and
exits 1 when one exceeds the tolerance (default 1e-6).

    python3 tools/benchcpu/diffruns.py before.json after.json [--tol 1e-6]
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--tol", type=float, default=1e-6)
    a = ap.parse_args()
    x, y = json.load(open(a.before)), json.load(open(a.after))
    print(f"before: {x['device']}, {x['seconds']:.1f} s; after: {y['device']}, {y['seconds']:.1f} s")
    worst = abs(x["nll"] - y["nll"])
    print(f"nll: {x['nll']:.9f} vs {y['nll']:.9f}, diff {worst:.1e} ({x['nll_tokens']} vs {y['nll_tokens']} tokens)")
    if len(x["metrics"]) != len(y["metrics"]) or x["nll_tokens"] != y["nll_tokens"]:
        print("FAIL: the runs did not score the same metrics or tokens")
        sys.exit(1)
    for p, q in zip(x["metrics"], y["metrics"]):
        name = p["metric"] + (f" n={p['n']}" if "n" in p else "")
        if (p["metric"], p.get("n")) != (q["metric"], q.get("n")) or len(p["scores"]) != len(q["scores"]):
            print(f"FAIL: {name} does not match {q['metric']}")
            sys.exit(1)
        d = max(abs(s - t) for s, t in zip(p["scores"], q["scores"]))
        worst = max(worst, d)
        print(f"{name}: {len(p['scores'])} scores, max abs diff {d:.1e}")
    print(f"largest difference {worst:.1e} (tolerance {a.tol:g})")
    if worst > a.tol:
        sys.exit(1)


if __name__ == "__main__":
    main()
