#!/usr/bin/env python3
"""Draws docs/images/pretraining-curve.svg: final ACC against pretraining samples seen, one line per dataset.

The points are docs/benchmarks.md's "How long to pretrain" table, given here as CSV on standard input:
dataset,samples,acc (samples as a number, e.g. 700000). Standard library only, so it runs wherever Python 3 does:

    python3 bench/plot-curve.py < points.csv > docs/images/pretraining-curve.svg
"""
import csv
import math
import sys

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 60, 170, 20, 50
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def main():
    series = {}
    for row in csv.DictReader(sys.stdin):
        series.setdefault(row["dataset"], []).append((float(row["samples"]), float(row["acc"])))
    xs = [x for points in series.values() for x, _ in points]
    ys = [y for points in series.values() for _, y in points]
    # Samples on a log scale: the budgets double from one point to the next.
    x0, x1 = math.log10(min(xs)) - 0.1, math.log10(max(xs)) + 0.1
    y0, y1 = math.floor(min(ys) * 20) / 20, math.ceil(max(ys) * 20) / 20

    def px(x):
        return LEFT + (math.log10(x) - x0) / (x1 - x0) * (WIDTH - LEFT - RIGHT)

    def py(y):
        return HEIGHT - BOTTOM - (y - y0) / (y1 - y0) * (HEIGHT - TOP - BOTTOM)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>']
    # Axes, ticks at each power-of-two multiple of 100,000 samples and every 0.05 of ACC.
    out.append(f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="black"/>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="black"/>')
    tick = 100_000
    while tick <= 10 ** x1:
        if tick >= 10 ** x0:
            label = f"{tick / 1e6:g}M"
            out.append(f'<line x1="{px(tick):.1f}" y1="{HEIGHT - BOTTOM}" x2="{px(tick):.1f}" y2="{HEIGHT - BOTTOM + 5}" stroke="black"/>')
            out.append(f'<text x="{px(tick):.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">{label}</text>')
        tick *= 2
    y = y0
    while y <= y1 + 1e-9:
        out.append(f'<line x1="{LEFT - 5}" y1="{py(y):.1f}" x2="{WIDTH - RIGHT}" y2="{py(y):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 8}" y="{py(y) + 4:.1f}" text-anchor="end">{y:.2f}</text>')
        y += 0.05
    out.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 12}" text-anchor="middle">pretraining samples seen (log scale)</text>')
    out.append(f'<text x="16" y="{(TOP + HEIGHT - BOTTOM) / 2}" text-anchor="middle" transform="rotate(-90 16 {(TOP + HEIGHT - BOTTOM) / 2})">final ACC</text>')
    for i, (name, points) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        points.sort()
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in points:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}"/>')
        out.append(f'<text x="{WIDTH - RIGHT + 10}" y="{TOP + 16 + 18 * i}" fill="{colour}">{name}</text>')
    out.append("</svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
