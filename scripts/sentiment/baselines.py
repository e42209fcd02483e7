#!/usr/bin/env python3
"""Baselines for Vigil's sentiment evaluation (issue 4), on the same rows and
with the same metrics as `vigil eval sentiment` (crates/eval/src/sentiment.rs).

- VADER (PyPI vaderSentiment): compound of polarity_scores(text) on the
  VADER ground-truth files; gold class = sign of the mean rating (0 =
  neutral); predicted class with thresholds +-0.05; weighted F1 and Pearson r.
- SnowNLP (PyPI snownlp): SnowNLP(text).sentiments on the Chinese CSV sets;
  predicted positive iff > 0.5; accuracy and macro-F1.

Usage: pip install vaderSentiment snownlp
       python3 scripts/sentiment/baselines.py [--data ../shared/data] [--json]
"""
import argparse
import csv
import json
import math
import os
import sys


def read_vader(path):
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t", 2)
            if len(parts) < 3:
                continue
            rows.append((float(parts[1]), parts[2]))
    return rows


def read_zh(path):
    with open(path, encoding="utf-8", newline="") as f:
        return [(int(r["label"]), r["text"]) for r in csv.DictReader(f)]


def sign_class(x):
    return 1 if x > 0 else (-1 if x < 0 else 0)


def metrics(gold, pred, labels):
    n = len(gold)
    idx = {l: i for i, l in enumerate(labels)}
    m = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred):
        m[idx[g]][idx[p]] += 1
    acc = sum(m[i][i] for i in range(len(labels))) / n if n else 0.0
    f1s, supports, present = [], [], []
    for i in range(len(labels)):
        tp = m[i][i]
        fp = sum(m[j][i] for j in range(len(labels))) - tp
        fn = sum(m[i]) - tp
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
        supports.append(sum(m[i]))
        # scikit-learn's macro average: classes in gold or predictions.
        if tp + fn + fp > 0:
            present.append(f1s[-1])
    macro = sum(present) / len(present) if present else 0.0
    weighted = sum(f * s for f, s in zip(f1s, supports)) / n if n else 0.0
    return acc, macro, weighted, m


def pearson(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "../../../shared/data"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = []

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    for name, fname in [
        ("tweets", "tweets_GroundTruth.txt"),
        ("movie", "movieReviewSnippets_GroundTruth.txt"),
        ("nyt", "nytEditorialSnippets_GroundTruth.txt"),
    ]:
        path = os.path.join(args.data, "vader/icwsm2014", fname)
        if not os.path.exists(path):
            print(f"SKIP: {path} absent", file=sys.stderr)
            continue
        rows = read_vader(path)
        comp = [sia.polarity_scores(t)["compound"] for _, t in rows]
        gold = [sign_class(r) for r, _ in rows]
        pred = [1 if c >= 0.05 else (-1 if c <= -0.05 else 0) for c in comp]
        acc, macro, wf1, m = metrics(gold, pred, [-1, 0, 1])
        out.append(dict(model="VADER", set=name, n=len(rows), accuracy=acc, macro_f1=macro,
                        weighted_f1=wf1, pearson_r=pearson(comp, [r for r, _ in rows])))

    from snownlp import SnowNLP

    for name in ["chnsenticorp_htl_all", "waimai_10k"]:
        path = os.path.join(args.data, "zh-sentiment", name + ".csv")
        if not os.path.exists(path):
            print(f"SKIP: {path} absent", file=sys.stderr)
            continue
        rows = read_zh(path)
        pred = [1 if SnowNLP(t).sentiments > 0.5 else 0 for _, t in rows]
        acc, macro, wf1, m = metrics([g for g, _ in rows], pred, [0, 1])
        out.append(dict(model="SnowNLP", set=name, n=len(rows), accuracy=acc, macro_f1=macro,
                        weighted_f1=wf1, pearson_r=None))

    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"{'model':8} {'set':22} {'n':>6} {'acc':>6} {'macroF1':>7} {'wF1':>6} {'r':>6}")
        for o in out:
            r = "-" if o["pearson_r"] is None else f"{o['pearson_r']:.3f}"
            print(f"{o['model']:8} {o['set']:22} {o['n']:>6} {o['accuracy']:.3f} "
                  f"{o['macro_f1']:.3f}   {o['weighted_f1']:.3f} {r:>6}")


if __name__ == "__main__":
    main()
