#!/usr/bin/env python3
"""Closed-loop load generator for a KServe v2 / Open Inference Protocol REST endpoint.

N concurrent clients each send one JSON infer request, wait for the answer and send the next,
for T seconds (plus a bounded request count). Prints one JSON object: throughput, latency
percentiles and errors. Loopback URLs only.

    python serve_load.py --url http://127.0.0.1:18100 --model digits_mlp --clients 64 --seconds 30
    python serve_load.py --model digits_cnn --input image --row-shape 1,8,8 --clients 16 --seconds 20
The output also counts the answers per model_version and the wall-clock time (time.time()) of the first answer
from each version, so a run can show when a new version started serving.
"""
import argparse
import asyncio
import json
import random
import sys
import time
from urllib.parse import urlparse

import aiohttp


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[k]


def make_body(batch, seed, name="X", row_shape=(64,)):
    rng = random.Random(seed)
    n = 1
    for d in row_shape:
        n *= d
    data = [float(rng.randint(0, 16)) for _ in range(batch * n)]  # digits pixels are 0..16
    return json.dumps({
        "inputs": [{"name": name, "shape": [batch, *row_shape], "datatype": "FP32", "data": data}],
    }).encode()


async def client(session, url, bodies, deadline, max_requests, state):
    i = 0
    while time.perf_counter() < deadline and state["sent"] < max_requests:
        state["sent"] += 1
        body = bodies[i % len(bodies)]
        i += 1
        t0 = time.perf_counter()
        try:
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                payload = await r.read()
                ok = r.status == 200
                if ok:
                    out = json.loads(payload)
                    ok = isinstance(out.get("outputs"), list) and len(out["outputs"]) > 0
                    v = str(out.get("model_version", "?"))
                    state["versions"][v] = state["versions"].get(v, 0) + 1
                    state["first_seen"].setdefault(v, time.time())
                if not ok:
                    state["errors"] += 1
                    if len(state["error_samples"]) < 3:
                        state["error_samples"].append(f"{r.status}: {payload[:200]!r}")
                    continue
        except Exception as e:  # connection reset, timeout, ...
            state["errors"] += 1
            if len(state["error_samples"]) < 3:
                state["error_samples"].append(repr(e)[:200])
            continue
        state["latencies"].append(time.perf_counter() - t0)


async def run(args):
    host = urlparse(args.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("serve_load.py only targets loopback URLs")
    url = f"{args.url.rstrip('/')}/v2/models/{args.model}/infer"
    row_shape = tuple(int(d) for d in args.row_shape.split(","))
    bodies = [make_body(args.batch, s, args.input, row_shape) for s in range(16)]
    state = {"sent": 0, "errors": 0, "latencies": [], "error_samples": [], "versions": {}, "first_seen": {}}
    timeout = aiohttp.ClientTimeout(total=args.request_timeout)
    connector = aiohttp.TCPConnector(limit=args.clients, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # warm-up: a few sequential requests, not counted
        for b in bodies[:4]:
            try:
                async with session.post(url, data=b, headers={"Content-Type": "application/json"}) as r:
                    await r.read()
            except Exception:
                pass
        start = time.perf_counter()
        deadline = start + args.seconds
        tasks = [asyncio.create_task(client(session, url, bodies, deadline, args.max_requests, state))
                 for _ in range(args.clients)]
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=args.seconds + args.request_timeout + 10)
        elapsed = time.perf_counter() - start
    lat = sorted(state["latencies"])
    ms = lambda v: None if v is None else round(v * 1000, 3)
    return {
        "url": url,
        "clients": args.clients,
        "batch": args.batch,
        "seconds": round(elapsed, 3),
        "requests": len(lat) + state["errors"],
        "ok": len(lat),
        "errors": state["errors"],
        "throughput_rps": round(len(lat) / elapsed, 1),
        "p50_ms": ms(percentile(lat, 0.50)),
        "p90_ms": ms(percentile(lat, 0.90)),
        "p99_ms": ms(percentile(lat, 0.99)),
        "max_ms": ms(lat[-1] if lat else None),
        "error_samples": state["error_samples"],
        "versions": state["versions"],
        "first_seen": state["first_seen"],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:18100")
    p.add_argument("--model", default="digits_mlp")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--batch", type=int, default=1, help="rows per request")
    p.add_argument("--input", default="X", help="input tensor name")
    p.add_argument("--row-shape", default="64", help="shape of one row, comma-separated (e.g. 1,8,8)")
    p.add_argument("--max-requests", type=int, default=5_000_000, help="hard cap on requests sent")
    p.add_argument("--request-timeout", type=float, default=30)
    args = p.parse_args()
    if not (1 <= args.clients <= 1024) or not (0 < args.seconds <= 600):
        sys.exit("clients must be 1..1024 and seconds 0..600")
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
