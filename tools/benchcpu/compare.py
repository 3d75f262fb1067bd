"""Reads tools/benchcpu/run.sh's results and prints the comparison table; exits 1 when Layerscope's
BI or NLL differs from PyTorch's by more than 1e-5."""
import glob
import json
import statistics
import sys

TOL = 1e-5


def load(res, model, side, kind):
    out = []
    for path in sorted(glob.glob(f"{res}/{model}-{side}-{kind}-*.json")):
        r = json.load(open(path))
        wall, rss = open(path[:-5] + ".time").read().split()[-2:]
        r["wall"], r["rss_mb"] = float(wall), int(rss) / 1024
        if side == "layerscope":
            r["bi"] = next(x["scores"] for x in r["metrics"] if x["metric"] == "bi")
            r.setdefault("run_seconds", [r["seconds"]])
        out.append(r)
    return out


def main():
    res, models = sys.argv[1], sys.argv[2:]
    ok = True
    print("| model | tokens | Layerscope warm | PyTorch warm | ratio warm | Layerscope cold | PyTorch cold"
          " | ratio cold | peak RSS Layerscope / PyTorch | max abs diff BI, NLL |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for m in models:
        r = {(s, k): load(res, m, s, k) for s in ("layerscope", "torch") for k in ("cold", "warm")}
        if not all(r.values()):
            print(f"| {m} | missing results |")
            ok = False
            continue
        tokens = len(json.load(open(glob.glob(f"{res}/../{m}-*.tokens.json")[0]))) * \
            len(json.load(open(glob.glob(f"{res}/../{m}-*.tokens.json")[0]))[0])
        warm = {s: statistics.median(t for x in r[(s, "warm")] for t in x["run_seconds"][1:]) for s in ("layerscope", "torch")}
        cold = {s: statistics.median(x["wall"] for x in r[(s, "cold")]) for s in ("layerscope", "torch")}
        rss = {s: max(x["rss_mb"] for k in ("cold", "warm") for x in r[(s, k)]) for s in ("layerscope", "torch")}
        dbi = max(abs(a - b) for x in r[("layerscope", "warm")] + r[("layerscope", "cold")]
                  for y in r[("torch", "warm")] for a, b in zip(x["bi"], y["bi"]))
        dnll = max(abs(x["nll"] - y["nll"]) for x in r[("layerscope", "warm")] for y in r[("torch", "warm")])
        ok = ok and dbi <= TOL and dnll <= TOL
        print(f"| {m} | {tokens} | {warm['layerscope']:.2f} s ({tokens / warm['layerscope']:.0f} tok/s) "
              f"| {warm['torch']:.2f} s ({tokens / warm['torch']:.0f} tok/s) | {warm['torch'] / warm['layerscope']:.2f} "
              f"| {cold['layerscope']:.2f} s | {cold['torch']:.2f} s | {cold['torch'] / cold['layerscope']:.2f} "
              f"| {rss['layerscope']:.0f} MB / {rss['torch']:.0f} MB | {dbi:.1e}, {dnll:.1e} |")
    print("ratio: PyTorch's time / Layerscope's (above 1: Layerscope faster). Warm: median of the runs after the "
          "first in one process; cold: one process start to exit.")
    if not ok:
        print(f"FAIL: results missing or BI/NLL differ by more than {TOL}")
        sys.exit(1)


if __name__ == "__main__":
    main()
