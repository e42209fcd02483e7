#!/usr/bin/env python3
"""Turn the CrisisLexT6 labelled tweets into one time-sorted JSON-lines replay
file in Vigil's Post shape, for `vigil run --input FILE.jsonl`.

Inputs (see ../shared/data/crisislex/PROVENANCE.md):
  CrisisLexT6/<event>/<event>-ontopic_offtopic.csv
      header `tweet id, tweet, label`; the id is wrapped in single quotes
      ('325208201740029952'); texts contain commas, quotes and newlines, so
      the file is read with the csv module. No timestamp column.
  derived/T6_created_at.csv
      `event,tweet_id,created_at_utc_from_snowflake,label`: the tweet's time,
      derived from its snowflake id.

Output: one object per line, sorted by (published_at, tweet id):
  {"id": "<tweet id>", "source": "x", "author": "unknown", "text": "...",
   "lang": "en", "published_at": "2013-04-18T01:02:03Z"}
The T6 files carry no author, so every post has author "unknown".

The tweet texts are Twitter/X content: never commit the output. Write it
under /tmp or target/, e.g.

  python3 scripts/crisislex_to_jsonl.py --out /tmp/crisislex_t6.jsonl
"""

import argparse
import csv
import json
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.normpath(os.path.join(REPO_ROOT, "..", "shared", "data", "crisislex"))


def strip_id(raw):
    """'3252...' -> 3252... (quotes and spaces removed)."""
    return raw.strip().strip("'\"").strip()


def load_times(path):
    """tweet id -> created_at (RFC 3339, UTC, second precision)."""
    times = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        for row in reader:
            tid = strip_id(row["tweet_id"])
            times[tid] = row["created_at_utc_from_snowflake"].strip()
    return times


def event_csvs(t6_dir):
    for event in sorted(os.listdir(t6_dir)):
        path = os.path.join(t6_dir, event, f"{event}-ontopic_offtopic.csv")
        if os.path.isfile(path):
            yield event, path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA,
                    help="crisislex data directory (default: %(default)s)")
    ap.add_argument("--out", required=True,
                    help="output JSON-lines file (keep it out of git: /tmp or target/)")
    args = ap.parse_args()

    t6_dir = os.path.join(args.data, "CrisisLexT6")
    times_path = os.path.join(args.data, "derived", "T6_created_at.csv")
    times = load_times(times_path)

    posts = []
    seen = set()
    per_event = {}
    read = joined = missing = dup = bad = 0
    for event, path in event_csvs(t6_dir):
        ev = per_event.setdefault(event, [0, 0])
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or [h.strip() for h in header] != ["tweet id", "tweet", "label"]:
                sys.exit(f"{path}: unexpected header {header!r}")
            for row in reader:
                if not row:
                    continue
                read += 1
                ev[0] += 1
                if len(row) != 3:
                    bad += 1
                    continue
                tid, text, _label = strip_id(row[0]), row[1], row[2].strip()
                t = times.get(tid)
                if t is None:
                    missing += 1
                    continue
                joined += 1
                if tid in seen:
                    # The same tweet listed twice in one event file (4 cases
                    # in v1.0): keep the first; Vigil would drop it anyway
                    # as a duplicate (source, id).
                    dup += 1
                    continue
                seen.add(tid)
                ev[1] += 1
                posts.append((t, int(tid), text))

    posts.sort(key=lambda p: (p[0], p[1]))
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for t, tid, text in posts:
            f.write(json.dumps({
                "id": str(tid),
                "source": "x",
                "author": "unknown",
                "text": text,
                "lang": "en",
                "published_at": t,
            }, ensure_ascii=False))
            f.write("\n")

    for event, (r, w) in sorted(per_event.items()):
        print(f"  {event}: rows={r} written={w}", file=sys.stderr)
    print(f"rows_read={read} joined={joined} missing_time={missing} "
          f"malformed={bad} duplicate_ids_dropped={dup} written={len(posts)} "
          f"first={posts[0][0] if posts else '-'} last={posts[-1][0] if posts else '-'} "
          f"out={args.out}")


if __name__ == "__main__":
    main()
