#!/usr/bin/env python3
"""Time-to-acknowledge scenario: a real `vigil run` (release build) opens
three incidents (major, moderate, minor) from posts on stdin; a responder
acknowledges them with `vigil incidents ack` after about 5, 20 and 45
seconds; the script prints the vigil_alert_time_to_acknowledge_seconds
histogram scraped from /metrics and writes the major incident's review
(`vigil incidents export --format md`) to WORK/export.md.

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
    f.write(f'[api]\n[[api.tokens]]\nname = "alice"\nrole = "responder"\ntoken = "{TOKEN}"\n')

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


def cli(*args):
    return subprocess.run([VIGIL, "incidents", *args], env=env, capture_output=True, text=True)


listed = None
for _ in range(150):
    try:
        listed = json.loads(cli("list", "--json").stdout)
        if listed.get("count", 0) >= 3:
            break
    except ValueError:
        pass
    time.sleep(0.2)
assert listed and listed["count"] >= 3, "three incidents never opened"
ids = [(i["id"], i["level"]) for i in listed["incidents"]]
print("incidents:", ids)
start = time.time()
for delay, (iid, _) in zip([5, 20, 45], sorted(ids, key=lambda x: ["major", "moderate", "minor"].index(x[1]))):
    while time.time() - start < delay:
        time.sleep(0.1)
    print(cli("ack", iid).stdout.strip())
metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
for line in metrics.splitlines():
    if line.startswith("vigil_alert_time_to_acknowledge_seconds"):
        print(line)
major = [iid for iid, level in ids if level == "major"][0]
with open(os.path.join(WORK, "export.md"), "w") as f:
    f.write(cli("export", major, "--format", "md").stdout)
server.stdin.close()
server.wait()
print("review:", os.path.join(WORK, "export.md"), "exit", server.returncode)
