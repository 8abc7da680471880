#!/usr/bin/env python3
"""Builds the table and the plot of docs/transfer.md from docs/transfer/results.jsonl (rows appended by
eng/transfer-bench.cs and eng/transfer-mlnet-baseline.cs). Standard library only: the plot is a hand-written SVG.

Usage: python3 eng/transfer-report.py [RESULTS.jsonl [OUT_FOLDER]]
Writes OUT_FOLDER/table.md (one row per run; runs repeated over seeds give mean ± spread) and OUT_FOLDER/accuracy.svg.
"""
import json, os, statistics, sys
from collections import OrderedDict

results = sys.argv[1] if len(sys.argv) > 1 else os.path.join("docs", "transfer", "results.jsonl")
out = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(results)
rows = [json.loads(line) for line in open(results) if line.strip()]

def label(r):
    if r["run"].startswith("ML.NET"):
        return "ML.NET DnnFeaturizeImage(ResNet18) + LbfgsMaximumEntropy (224)"
    ft = r.get("fineTuning", "default")
    arch = r["architecture"]
    name = arch if not arch.startswith("Pretrained") else f"{arch} {ft}"
    extra = []
    if r.get("side"):
        extra.append(f"{r['side']}px")
    if r.get("updateBatchNorm"):
        extra.append("BN updated")
    if arch.startswith("Pretrained") and ft in ("Full", "LastStage") and r.get("backboneLearningRateScale") not in (None, 0.1):
        extra.append(f"backbone lr ×{r['backboneLearningRateScale']}")
    if r.get("lr") not in (None, 0.001):
        extra.append(f"lr {r['lr']:g}")
    return f"{name} {r['optimizer']}" + (f" ({', '.join(extra)})" if extra else "")

groups = OrderedDict()
for r in rows:
    groups.setdefault((r["perClass"], label(r), r.get("epochs"), r.get("testRows", 10000)), []).append(r)

def fmt(values, scale=1.0, digits=1):
    if any(v is None for v in values):
        return "n/a"
    values = [v * scale for v in values]
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"

lines = ["| images/class | run | epochs | seeds | test images | test accuracy % | macro-F1 | training wall time s (incl. feature pass) | test scoring s |",
         "|---|---|---|---|---|---|---|---|---|"]
for (per, name, epochs, test_rows), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], -kv[0][3], -statistics.mean(r["accuracy"] for r in kv[1]))):
    lines.append(f"| {per} | {name} | {epochs if epochs else '—'} | {len(rs)} | {test_rows:,} | {fmt([r['accuracy'] for r in rs], 100, 2)} | "
                 f"{fmt([r['macroF1'] for r in rs], 1, 4)} | {fmt([r['trainSeconds'] for r in rs], 1, 0)} | {fmt([r['testSeconds'] for r in rs], 1, 0)} |")
open(os.path.join(out, "table.md"), "w").write("\n".join(lines) + "\n")

# Plot: test accuracy (x) against training wall time (y, log scale), one marker per group, one colour per subset.
colours = {100: "#1f77b4", 600: "#d62728"}
points = [(per, name + ("" if test_rows == 10000 else f" [{test_rows:,} test images]"), statistics.mean(r["accuracy"] for r in rs) * 100,
           statistics.mean(r["trainSeconds"] for r in rs))
          for (per, name, _, test_rows), rs in groups.items()]
import math
W, H, L, R, T, B = 900, 60 + 22 * len(points) + 360, 70, 20, 30, 22 * len(points) + 90
xs = [p[2] for p in points]; ys = [math.log10(max(p[3], 1)) for p in points]
x0, x1 = math.floor(min(xs) / 5) * 5, math.ceil(max(xs) / 5) * 5
y0, y1 = math.floor(min(ys)), math.ceil(max(ys)) if math.ceil(max(ys)) > math.floor(min(ys)) else math.floor(min(ys)) + 1
ph = H - T - B
def px(x): return L + (x - x0) / max(x1 - x0, 1e-9) * (W - L - R)
def py(y): return T + (1 - (y - y0) / max(y1 - y0, 1e-9)) * ph
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W/2}" y="18" text-anchor="middle" font-size="14">FashionMNIST subsets → full test set: accuracy vs training wall time (busy 2-core CPU)</text>']
for x in range(int(x0), int(x1) + 1, 5):
    svg.append(f'<line x1="{px(x)}" y1="{T}" x2="{px(x)}" y2="{T+ph}" stroke="#ddd"/><text x="{px(x)}" y="{T+ph+15}" text-anchor="middle">{x}%</text>')
for y in range(int(y0), int(y1) + 1):
    svg.append(f'<line x1="{L}" y1="{py(y)}" x2="{W-R}" y2="{py(y)}" stroke="#ddd"/><text x="{L-6}" y="{py(y)+4}" text-anchor="end">{10**y:g} s</text>')
svg.append(f'<text x="{(L+W-R)/2}" y="{T+ph+32}" text-anchor="middle">test accuracy (10,000 images)</text>')
for i, (per, name, acc, secs) in enumerate(points):
    c = colours.get(per, "#333")
    x, y = px(acc), py(math.log10(max(secs, 1)))
    shape = f'<rect x="{x-5}" y="{y-5}" width="10" height="10" fill="{c}"/>' if name.startswith("ML.NET") else f'<circle cx="{x}" cy="{y}" r="5" fill="{c}"/>'
    svg.append(shape + f'<text x="{x+7}" y="{y-6}" font-size="10">{i+1}</text>')
    ly = T + ph + 55 + 22 * i
    svg.append(f'<circle cx="{L}" cy="{ly-4}" r="5" fill="{c}"/><text x="{L+12}" y="{ly}">{i+1}: {per}/class — {name}: {acc:.2f}%, {secs:.0f} s</text>')
svg.append("</svg>")
open(os.path.join(out, "accuracy.svg"), "w").write("\n".join(svg) + "\n")
print(f"wrote {os.path.join(out, 'table.md')} and {os.path.join(out, 'accuracy.svg')} ({len(rows)} runs)")
