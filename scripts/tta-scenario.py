#!/usr/bin/env python3
"""Crisis-response scenario (issues 11 and 15): a real `vigil run` (release
build) with response targets opens three incidents (major, moderate, minor)
from posts on stdin. With `vigil incidents ...` as the people would:

- a responder acknowledges them after about 5, 20 and 45 seconds (the
  major one's 10 s target is met, the moderate one's 15 s target missed);
- the major incident gets an incident lead and a communications lead, and a
  status update at about 25 s (its 30 s respond target is met);
- a service-desk agent (role reporter) reports trouble on the minor
  incident's watch at moderate (it joins and raises that incident) and
  reports a new incident with no watch (its targets run out);
- the major incident is resolved at about 50 s and its review filled in.

At about 75 s it prints the vigil_alert_time_to_acknowledge_seconds
histogram and vigil_incident_target_breaches_total from /metrics, and the
period report (`vigil incidents report`); it writes the major incident's
review (`vigil incidents export --format md`) to WORK/export.md and the
period report to WORK/period.md.

    cargo build --release && python3 scripts/tta-scenario.py [WORK_DIR]
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.path.join(ROOT, "target", "release", "vigil")
TOKEN = "responder-secret-0123456789"
DESK = "service-desk-secret-0123456789"
WORK = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="vigil-tta-")
os.makedirs(WORK, exist_ok=True)

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
sock.close()

config = os.path.join(WORK, "vigil.toml")
with open(os.path.join(ROOT, "config", "example.toml")) as f:
    base = f.read()
with open(config, "w") as f:
    f.write(base)
    f.write(f"\n[incidents]\ndata_dir = '{os.path.join(WORK, 'data')}'\n")
    # Response targets (seconds from the opening), short for a demo.
    f.write("[alert.targets.major]\nacknowledge_secs = 10\nrespond_secs = 30\nresolve_secs = 60\n")
    f.write("[alert.targets.moderate]\nacknowledge_secs = 15\nrespond_secs = 60\n")
    f.write("[alert.targets.minor]\nacknowledge_secs = 60\n")
    f.write(f'[api]\n[[api.tokens]]\nname = "alice"\nrole = "responder"\ntoken = "{TOKEN}"\n')
    f.write(f'[[api.tokens]]\nname = "desk"\nrole = "reporter"\ntoken = "{DESK}"\n')

server = subprocess.Popen(
    [VIGIL, "run", "--config", config, "--input", "-", "--admin-addr", f"127.0.0.1:{port}"],
    stdin=subprocess.PIPE,
    stdout=open(os.path.join(WORK, "alerts.jsonl"), "w"),
    stderr=open(os.path.join(WORK, "vigil.log"), "w"),
)
n = 0


def post(sec, text, source):
    global n
    n += 1
    m, s = divmod(sec, 60)
    h, m = divmod(m, 60)
    line = {
        "id": f"c{n}", "source": source, "author": f"u{n % 50}", "lang": "en", "text": text,
        "published_at": f"2026-03-02T{8 + h:02}:{m:02}:{s:02}.000Z",
    }
    server.stdin.write((json.dumps(line) + "\n").encode())


def quiet(minute):
    post(minute * 60 + 5, "acme store is open today", "bluesky")
    post(minute * 60 + 15, "my zephyr phone works fine", "bluesky")
    post(minute * 60 + 25, "flying northwind air tomorrow", "bluesky")


for minute in range(20):
    quiet(minute)
sources = ["bluesky", "mastodon", "reddit", "x"]
for i in range(30):
    post(1200 + i, "acme recall: the acme blender is dangerous, recall now", "bluesky")
    post(1200 + i, "northwind air cancelled my flight, awful", sources[i % 4])
    if i < 9:
        post(1200 + i, "zephyr phone screen keeps freezing again", "bluesky")
for minute in range(21, 24):
    quiet(minute)
server.stdin.flush()

env = dict(os.environ, VIGIL_API_URL=f"http://127.0.0.1:{port}", VIGIL_API_TOKEN=TOKEN)


def cli(*args, token=TOKEN, check=True):
    e = dict(env, VIGIL_API_TOKEN=token)
    out = subprocess.run([VIGIL, "incidents", *args], env=e, capture_output=True, text=True)
    if check and out.returncode != 0:
        sys.exit(f"vigil incidents {' '.join(args)} failed: {out.stderr}")
    return out


listed = None
for _ in range(150):
    try:
        listed = json.loads(cli("list", "--json", check=False).stdout)
        if listed.get("count", 0) >= 3:
            break
    except ValueError:
        pass
    time.sleep(0.2)
assert listed and listed["count"] >= 3, "three incidents never opened"
ids = [(i["id"], i["level"]) for i in listed["incidents"]]
print("incidents:", ids)
start = time.time()
by_level = {level: iid for iid, level in ids}
major, moderate, minor = by_level["major"], by_level["moderate"], by_level["minor"]
minor_watch = [i["watch"] for i in listed["incidents"] if i["id"] == minor][0]


def at(secs, *args, token=TOKEN):
    while time.time() - start < secs:
        time.sleep(0.1)
    out = cli(*args, token=token).stdout.strip()
    print(f"t+{time.time() - start:4.1f}s  vigil incidents {args[0]}: {out.splitlines()[0] if out else ''}")


at(5, "ack", major)
at(6, "role", major, "lead", "dana")
at(7, "role", major, "communications", "erin")
at(10, "open", "--title", "Customers calling about it too", "--level", "moderate", "--watch", minor_watch,
   "--description", "Hotline wait over 20 minutes", token=DESK)
at(12, "open", "--title", "Store staff: cracked jars in Shanghai", "--level", "major",
   "--kind", "product_safety", "--link", "https://weibo.example/p/1", token=DESK)
at(20, "ack", moderate)
at(25, "status", major, "We are aware of reports about the Acme blender and are investigating.")
at(45, "ack", minor)
at(50, "resolve", major)
at(52, "review", major, "--root-cause", "A faulty blade-lock batch (demo)",
   "--actions", "Recall of the batch; holding statement within 25 s",
   "--effectiveness", "Acknowledged in 5 s, first statement in 25 s")
while time.time() - start < 75:
    time.sleep(0.2)
metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
for line in metrics.splitlines():
    if line.startswith(("vigil_alert_time_to_acknowledge_seconds", "vigil_incident_target_breaches_total")):
        print(line)
with open(os.path.join(WORK, "export.md"), "w") as f:
    f.write(cli("export", major, "--format", "md").stdout)
period = cli("report", "--since", "2000-01-01T00:00:00Z").stdout
with open(os.path.join(WORK, "period.md"), "w") as f:
    f.write(period)
print()
print(period)
server.stdin.close()
server.wait()
print("review:", os.path.join(WORK, "export.md"), "period:", os.path.join(WORK, "period.md"), "exit", server.returncode)
