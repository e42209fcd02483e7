#!/usr/bin/env python3
"""Writes the golden scenario inputs under tests/scenarios/ and the example
input examples/posts.jsonl. Deterministic (fixed seed); the texts are written
for Vigil, no third-party data. Re-run after changing a scenario, then
regenerate expected_alerts.jsonl with `VIGIL_BLESS=1 cargo test --test
integration golden` and review the diff.
"""
import json
import os
import random
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)

CONFIG = """# Scenario config: one EN+ZH brand watch, one product watch.
[detect]
bin_secs = 60
allowed_lateness_secs = 30
warmup_secs = 900
min_count = 8
z_floor = 4.0
resolve_after_quiet_secs = 480

[[watches]]
id = "acme"
name = "Acme Corp"
terms = ["acme", "艾克美", "#acmefail"]
exclude = ["acme hotel"]

[[watches]]
id = "zephyr-phone"
name = "Zephyr phone"
terms = ["zephyr phone", "zephyr x2", "泽风手机"]
"""

EN_BASE = [
    "just picked up a new acme blender",
    "acme store on main street is busy",
    "anyone tried the acme app update?",
    "acme delivery came on time, nice",
    "thinking of buying acme headphones",
]
ZH_BASE = ["艾克美新品发布了", "艾克美的门店开业", "有人用过艾克美吗", "艾克美快递很快，不错"]
NOISE = ["coffee time", "the weather is nice today", "周末去爬山", "watching the game tonight"]
EN_SOURCES = ["x", "reddit", "mastodon", "bluesky"]
ZH_SOURCES = ["weibo", "douyin", "zhihu", "wechat"]

MINOR = [
    "acme app logged me out again, annoying",
    "long queue at the acme counter today",
    "acme support is slow this morning",
]
MODERATE_ZH = [
    "艾克美服务太差了，大家都在投诉",
    "艾克美又出问题了，很多人都很生气",
    "艾克美客服态度差，太失望了",
]
MAJOR = [
    "acme recall: blender blade breaks, several people injured",
    "艾克美宣布召回，电池起火致多人受伤",
    "acme blender explosion sends two to hospital",
    "艾克美产品爆炸，有人受伤",
]


class Writer:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.lines = []
        self.n = 0

    def post(self, t, text, source, lang):
        self.n += 1
        self.lines.append((t, json.dumps({
            "id": f"p{self.n}",
            "source": source,
            "author": f"u{self.rng.randrange(5000)}",
            "lang": lang,
            "text": text,
            "published_at": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z",
        }, ensure_ascii=False)))

    def raw(self, t, line):
        self.lines.append((t, line))

    def minute(self, m, n, texts, sources=None, lang=None):
        for _ in range(n):
            t = T0 + timedelta(minutes=m, milliseconds=self.rng.randrange(60000))
            text = self.rng.choice(texts)
            zh = not text.isascii()
            src = self.rng.choice(sources or (ZH_SOURCES if zh else EN_SOURCES))
            self.post(t, text, src, lang or ("zh" if zh else "en"))

    def baseline(self, minutes, rate=4, start=0):
        for m in range(start, start + minutes):
            self.minute(m, rate, EN_BASE + ZH_BASE)
            self.minute(m, 1, NOISE)

    def write(self, path, sort=True):
        lines = sorted(self.lines, key=lambda x: x[0]) if sort else self.lines
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            for _, l in lines:
                f.write(l + "\n")


def scenario(name, build, config=CONFIG, sort=True, seed=None):
    w = Writer(0)
    w.rng.seed(seed or name)
    build(w)
    d = os.path.join(ROOT, "tests", "scenarios", name)
    w.write(os.path.join(d, "input.jsonl"), sort=sort)
    with open(os.path.join(d, "config.toml"), "w", encoding="utf-8") as f:
        f.write(config)


def quiet(w):
    w.baseline(120)


def slow_rise(w):
    for m in range(240):
        w.minute(m, 3 + m // 12, EN_BASE + ZH_BASE)
        w.minute(m, 1, NOISE)


def en_spike_minor(w):
    w.baseline(90)
    for m in range(40, 43):
        w.minute(m, 25, MINOR, sources=["x"], lang="en")


def zh_spike_moderate(w):
    w.baseline(90)
    for m in range(40, 43):
        w.minute(m, 40, MODERATE_ZH, sources=ZH_SOURCES, lang="zh")


def recall_major(w):
    w.baseline(90)
    for m in range(40, 43):
        w.minute(m, 30, MAJOR)


def escalation(w):
    w.baseline(90)
    for m in range(40, 42):
        w.minute(m, 25, MINOR, sources=["x"], lang="en")
    for m in range(42, 45):
        w.minute(m, 30, MAJOR)


def resolve_after_quiet(w):
    w.baseline(120)
    for m in range(40, 43):
        w.minute(m, 25, MINOR, sources=["x"], lang="en")
    # A second, separate burst after the first incident resolved: new incident.
    for m in range(80, 82):
        w.minute(m, 25, MINOR, sources=["x"], lang="en")


def late_and_malformed(w):
    en_spike_minor(w)
    # Malformed lines at fixed times (they sort in among the posts).
    bad = ["{broken json", "[]", '{"id":"m1","text":"no time"}',
           '{"id":"m2","text":"acme","published_at":"not a time"}', "",
           '{"id":"m3","published_at":"2026-03-02T08:10:00Z"}']
    for i, b in enumerate(bad):
        w.raw(T0 + timedelta(minutes=10 + 10 * i, seconds=30), b)


def late_lines(w):
    late_and_malformed(w)
    # Very late posts (10 minutes behind the stream) right after minute 60.
    lines = sorted(w.lines, key=lambda x: x[0])
    out = []
    inserted = False
    for t, l in lines:
        out.append((t, l))
        if not inserted and t >= T0 + timedelta(minutes=60):
            for k in range(5):
                lt = T0 + timedelta(minutes=50, seconds=k)
                w.n += 1
                out.append((t, json.dumps({"id": f"late{k}", "source": "x", "author": "u1",
                    "text": "acme late post", "published_at": lt.strftime("%Y-%m-%dT%H:%M:%SZ")})))
            inserted = True
    w.lines = out


def three_stories(w):
    """Three distinct complaints in one minute, one reposted 40 times: the
    alert must list 3 stories, largest first, with their counts, originals
    vs reposts, and the rising terms (issue 14)."""
    w.baseline(40)
    w.baseline(50, start=41)
    at = lambda s: T0 + timedelta(minutes=40, seconds=s)
    a_text = "My Acme X1 blender exploded while I was making soup, glass everywhere. #BoycottAcme"
    w.n += 1
    a_id = f"p{w.n}"
    w.raw(at(1), json.dumps({
        "id": a_id, "source": "x", "author": "dana_k", "lang": "en", "text": a_text,
        "published_at": at(1).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "url": f"https://x.example/dana_k/{a_id}", "reach": 120000,
        "engagement": {"reposts": 40, "likes": 300, "replies": 25}}, ensure_ascii=False))
    for i in range(40):
        t = at(2 + i)
        w.n += 1
        w.raw(t, json.dumps({
            "id": f"p{w.n}", "source": "x" if i % 4 else "mastodon",
            "author": f"fan{i}", "lang": "en", "text": "RT @dana_k: " + a_text,
            "repost_of": a_id, "reach": 100 + i,
            "published_at": t.strftime("%Y-%m-%dT%H:%M:%S.000Z")}, ensure_ascii=False))
    b_texts = [
        "acme support hung up on me twice today after two hours on hold",
        "Acme support hung up on me twice today after two hours on hold!!",
        "acme support hung up on me twice today, after two hours on hold. ugh",
    ]
    for i in range(8):
        t = at(3 + 7 * i)
        w.post(t, b_texts[i % len(b_texts)], ["reddit", "x", "bluesky"][i % 3], "en")
    for i in range(5):
        t = at(5 + 11 * i)
        text = ["艾克美X1搅拌机漏电，用的时候被电了一下，太危险了",
                "艾克美X1搅拌机漏电，用的时候被电了一下，太危险了！！"][i % 2]
        w.post(t, text, ["weibo", "douyin"][i % 2], "zh")


def example(w):
    """examples/posts.jsonl: a morning for Acme with one alert of each level."""
    w.baseline(200)
    for m in range(40, 43):
        w.minute(m, 25, MINOR, sources=["x"], lang="en")
    for m in range(90, 93):
        w.minute(m, 40, MODERATE_ZH, sources=ZH_SOURCES, lang="zh")
    for m in range(150, 153):
        w.minute(m, 30, MAJOR)


if __name__ == "__main__":
    scenario("quiet_stream", quiet)
    scenario("slow_steady_rise", slow_rise)
    scenario("sudden_en_spike_minor", en_spike_minor)
    scenario("zh_spike_across_sources_moderate", zh_spike_moderate)
    scenario("recall_accident_major", recall_major)
    scenario("escalation_minor_to_major", escalation)
    scenario("resolve_after_quiet", resolve_after_quiet)
    scenario("late_and_malformed_lines", late_lines, sort=False, seed="sudden_en_spike_minor")
    scenario("stories_three_complaints_one_reposted", three_stories)
    w = Writer(0)
    w.rng.seed("example")
    example(w)
    w.write(os.path.join(ROOT, "examples", "posts.jsonl"))
    print("wrote scenarios and examples/posts.jsonl")
