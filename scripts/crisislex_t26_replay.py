#!/usr/bin/env python3
"""Replay the mention timelines of CrisisLexT26's sudden-onset events through
`vigil run` with the default detector, and report per event the first
alert's delay from the onset and the alerts before it.

CrisisLexT26 (../shared/data/crisislex/PROVENANCE.md) lists, per event, the
id and time of every tweet its keyword collection kept
(`<event>-tweetids_entire_period.csv`: `Timestamp, Tweet-ID,
Included(Y/N)`), but no text. Each kept tweet (Included = Y) becomes a post
with one placeholder text that the single watch of
config/crisislex-t26.toml matches, so the watch sees exactly the
collection's volume: a real crisis's mentions, to the second, and no
content (the sentiment and crisis-term triggers stay silent; this tests
the volume detector alone). Every collection starts some hours before its
event, so the quiet stretch before the onset is in the data too.

Onsets are the times the cited pages give (converted to UTC), never read
off the timelines. An alert counts when an incident opens or escalates;
its time is its window's end (the bin in which the detector decided).

  python3 scripts/crisislex_t26_replay.py [--vigil target/release/vigil]

Writes its replay files under a temporary directory (the ids are X
content: never commit them) and prints a Markdown table.
"""

import argparse
import csv
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.normpath(os.path.join(REPO_ROOT, "..", "shared", "data", "crisislex"))
CONFIG = os.path.join(REPO_ROOT, "config", "crisislex-t26.toml")
TEXT = "t26 collection post"

# Every sudden-onset ("Instantaneous") event of T26 except the Boston
# bombings, whose id file is not in the snapshot: event folder -> (onset,
# UTC, "YYYY-MM-DDTHH:MM"; the page and the phrase that give it). Pages
# disagree by a few minutes for some (docs/EVAL-crisislex.md lists them).
ONSETS = {
    "2012_Italy_earthquakes": (
        "2012-05-20T02:03", "en.wikipedia.org 2012_Northern_Italy_earthquakes (mirror): "
        "'on 20 May at 04:03 local time (02:03 UTC)'"),
    "2012_Venezuela_refinery": (
        "2012-08-25T05:41", "en.wikipedia.org Amuay_tragedy (mirror): "
        "'On 25 August 2012 at 01:11 (05:41 GMT)'"),
    "2012_Costa_Rica_earthquake": (
        "2012-09-05T14:42", "en.wikipedia.org 2012_Costa_Rica_earthquake: "
        "'occurred at 08:42 local time (14:42 UTC)'"),
    "2012_Guatemala_earthquake": (
        "2012-11-07T16:35", "en.wikipedia.org 2012_Guatemala_earthquake: "
        "'November 7 at 10:35:45 local time' (UTC-6)"),
    "2013_Brazil_nightclub_fire": (
        "2013-01-27T04:00", "en.wikipedia.org Kiss_nightclub_fire: 'The fire started "
        "between 2:00 and 2:30 a.m. (BRST)' (UTC-2; the earliest minute is taken)"),
    "2013_Russia_meteor": (
        "2013-02-15T03:20", "en.wikipedia.org Chelyabinsk_meteor (quoted): "
        "'09:20 YEKT (03:20 UTC)'"),
    "2013_West_Texas_explosion": (
        "2013-04-18T00:50", "en.wikipedia.org West_Fertilizer_Company_explosion: "
        "'7:50:38 p.m. CDT (UTC-05:00)'"),
    "2013_Savar_building_collapse": (
        "2013-04-24T02:45", "en.wikipedia.org Rana_Plaza_collapse (mirror): "
        "'08:45 am BST (UTC+06:00)'"),
    "2013_Lac_Megantic_train_crash": (
        "2013-07-06T05:14", "en.wikipedia.org Lac-Megantic_derailment (mirror): "
        "'01:14 EDT (05:14 UTC)'"),
    "2013_Spain_train_crash": (
        "2013-07-24T18:41", "en.wikinews.org 77_die_in_train_crash_in_Santiago_de_Compostela: "
        "'20:41 local time (1841 UTC)'"),
    "2013_Bohol_earthquake": (
        "2013-10-15T00:12", "en.wikipedia.org 2013_Bohol_earthquake (mirror): "
        "'UTC time 2013-10-15 00:12:32'"),
    "2013_LA_airport_shootings": (
        "2013-11-01T16:20", "en.wikipedia.org 2013_Los_Angeles_International_Airport_shooting: "
        "'at around 9:20 a.m. PDT'"),
    "2013_Glasgow_helicopter_crash": (
        "2013-11-29T22:22", "en.wikipedia.org 2013_Glasgow_helicopter_crash: "
        "'At 22:22 ... the helicopter crashed' (GMT)"),
    "2013_NY_train_crash": (
        "2013-12-01T12:19", "en.wikipedia.org December_2013_Spuyten_Duyvil_derailment: "
        "'7:19 a.m. EST (12:19 UTC)'"),
}


def parse_time(s):
    """'Thu Jun 20 03:56:19 +0000 2013' -> aware datetime (UTC)."""
    return dt.datetime.strptime(s.strip(), "%a %b %d %H:%M:%S %z %Y")


def rfc3339(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_posts(data, event):
    path = os.path.join(data, "CrisisLexT26", event, f"{event}-tweetids_entire_period.csv")
    posts = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, skipinitialspace=True)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != ["Timestamp", "Tweet-ID", "Included(Y/N)"]:
            sys.exit(f"{path}: unexpected header {header!r}")
        for row in reader:
            if len(row) != 3 or row[2].strip() != "Y":
                continue
            posts.append((parse_time(row[0]), row[1].strip()))
    posts.sort()
    return posts


def replay(vigil, work, event, posts):
    """Runs `vigil run` on the event's posts; returns its alerts."""
    path = os.path.join(work, f"{event}.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for t, tid in posts:
            f.write(json.dumps({
                "id": tid, "source": "x", "author": "unknown", "text": TEXT,
                "lang": "en", "published_at": rfc3339(t),
            }))
            f.write("\n")
    # A fresh working directory: vigil keeps its state (incidents, the ids
    # of alerts sent) in the current directory, and a second run in the
    # same one would recognise the alerts as already sent.
    cwd = tempfile.mkdtemp(prefix=f"{event}-", dir=work)
    run = subprocess.run(
        [vigil, "run", "--config", CONFIG, "--input", path, "--admin-addr", "127.0.0.1:0"],
        cwd=cwd, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        sys.exit(f"{event}: vigil run failed ({run.returncode}): {run.stderr[-2000:]}")
    return [json.loads(l) for l in run.stdout.splitlines() if l.startswith("{")]


def with_history(posts, onset, days):
    """`posts` after `days` of synthetic quiet posts at the rate the
    collection shows before `onset` (none when it starts after it)."""
    quiet = [t for t, _ in posts if t < onset]
    if not quiet:
        return posts
    hours = max((onset - posts[0][0]).total_seconds() / 3600, 1.0)
    rate = len(quiet) / hours / 3600.0  # posts per second
    rng = random.Random(1)
    start = posts[0][0] - dt.timedelta(days=days)
    t, extra = start, []
    while True:
        t += dt.timedelta(seconds=rng.expovariate(rate))
        if t >= posts[0][0]:
            break
        extra.append((t.replace(microsecond=0), f"synthetic-{len(extra)}"))
    return extra + posts


def when(a):
    return dt.datetime.fromisoformat(a["window_end"].replace("Z", "+00:00"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--vigil", default=os.path.join(REPO_ROOT, "target", "release", "vigil"))
    ap.add_argument("--keep", help="write the replay files here instead of a temporary directory")
    ap.add_argument("--history-days", type=float, default=0.0,
                    help="what-if: prepend this many days of synthetic quiet posts at the "
                         "event's own pre-onset rate (Poisson, seed 1), so the watch is as "
                         "old as a deployed one; 0 (default) replays the collection alone")
    ap.add_argument("--json", action="store_true",
                    help="one JSON object per event instead of the table (for tests/crisislex.rs)")
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(args.data, "CrisisLexT26")):
        sys.exit(f"CrisisLexT26 not found under {args.data}: see ../shared/data/crisislex")
    if not os.access(args.vigil, os.X_OK):
        sys.exit(f"{args.vigil} is not an executable: build it (cargo build --release) or pass --vigil")

    if not args.json:
        print("| event | onset (UTC) | quiet hours before it | posts in the hour before / after | "
              "first post after onset | first alert after onset | level, reason | alerts before onset |")
        print("|---|---|---:|---|---|---|---|---|")
    totals = {"events": 0, "in_60": 0, "quiet": 0}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or tmp
        os.makedirs(work, exist_ok=True)
        for event, (onset_s, _source) in ONSETS.items():
            onset = dt.datetime.fromisoformat(onset_s + ":00+00:00")
            posts = load_posts(args.data, event)
            replayed = posts
            if args.history_days > 0:
                replayed = with_history(posts, onset, args.history_days)
            alerts = [a for a in replay(args.vigil, work, event, replayed)
                      if a.get("state") in ("opened", "escalated")]
            hour = dt.timedelta(hours=1)
            before = sum(1 for t, _ in posts if onset - hour <= t < onset)
            after = sum(1 for t, _ in posts if onset <= t < onset + hour)
            quiet_h = (onset - posts[0][0]).total_seconds() / 3600
            first_post = next((t for t, _ in posts if t >= onset), None)
            first_post_s = (f"+{(first_post - onset).total_seconds() / 60:.0f} min"
                            if first_post else "none")
            pre = [a for a in alerts if when(a) <= onset]
            post = [a for a in alerts if when(a) > onset]
            if post:
                first = post[0]
                delay = (when(first) - onset).total_seconds() / 60
                first_s = f"+{delay:.0f} min ({first['window_start'][11:16]}-{first['window_end'][11:16]})"
                level = f"{first['level']}: {first['reason'].split('(', 1)[-1].rstrip(')')}"
            else:
                delay = None
                first_s, level = "none", "-"
            pre_s = "; ".join(f"{a['level']} at {a['window_end'][:16].replace('T', ' ')} "
                              f"({a['observed']} posts)" for a in pre) or "0"
            quiet_s = f"{quiet_h:.0f}" if quiet_h >= 0 else f"none (starts {-quiet_h * 60:.0f} min after)"
            if args.json:
                print(json.dumps({
                    "event": event, "onset": onset_s, "quiet_hours": round(quiet_h, 2),
                    "posts_first_hour": after, "first_alert_min": delay,
                    "alerts_before_onset": [a["window_end"] for a in pre],
                }))
            else:
                print(f"| {event} | {onset_s.replace('T', ' ')} | {quiet_s} | {before} / {after} | "
                      f"{first_post_s} | {first_s} | {level} | {pre_s} |")
            totals["events"] += 1
            totals["in_60"] += int(delay is not None and delay <= 60)
            totals["quiet"] += int(not pre)
    if not args.json:
        print(f"\n{totals['in_60']} of {totals['events']} events alerted within 60 minutes of onset; "
              f"{totals['quiet']} of {totals['events']} had no alert before it.")


if __name__ == "__main__":
    main()
