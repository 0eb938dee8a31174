#!/usr/bin/env python3
"""Clicks through the web page of a running `onyx serve` (bundled Examples/models) in headless Chromium, driven over
the Chrome DevTools protocol (a websocket, through aiohttp; no webdriver):

1. the tabular form of digits_mlp: fills the text box with a held-out digits row (Examples/inputs/digits.npy[0]),
   clicks Infer and checks the shown label equals onnxruntime's (digits_expected_label.npy[0]);
2. the image form of digits_cnn: picks a PNG of the same 8x8 digit (written here, grey = pixel * 255) with the
   file input, lets the page draw it to its canvas and convert it to float CHW, clicks Infer and checks the shown
   label equals onnxruntime's label for that image (digits_cnn_expected_label.npy[0]);
3. the live stats line of digits_mlp shows the request.

    python tests/webpage_chromium_test.py --url http://127.0.0.1:8000 --chromium /usr/bin/chromium --examples Examples

scripts/check-webpage.sh starts the server and runs this.
"""
import argparse
import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import aiohttp
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--url", required=True)
p.add_argument("--chromium", default="/usr/bin/chromium")
p.add_argument("--examples", default="Examples")
p.add_argument("--screenshot", default="", help="also save a PNG screenshot of the page after the clicks")
args = p.parse_args()
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def png_grey(img):
    """A minimal 8-bit greyscale PNG (no imaging library needed)."""
    h, w = img.shape
    raw = b"".join(b"\x00" + bytes(row) for row in img.astype(np.uint8))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class CDP:
    def __init__(self, ws):
        self.ws, self.next_id = ws, 0

    async def call(self, method, **params):
        self.next_id += 1
        i = self.next_id
        await self.ws.send_json({"id": i, "method": method, "params": params})
        while True:
            msg = await self.ws.receive_json(timeout=30)
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    async def eval(self, expr):
        r = await self.call("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr[:80]}: {r['exceptionDetails']}")
        return r.get("result", {}).get("value")

    async def wait_for(self, expr, seconds=15):
        t0 = time.time()
        while time.time() - t0 < seconds:
            v = await self.eval(expr)
            if v:
                return v
            await asyncio.sleep(0.1)
        return None


async def main():
    x = np.load(os.path.join(args.examples, "inputs", "digits.npy"))[0]
    mlp_label = int(np.load(os.path.join(args.examples, "inputs", "digits_expected_label.npy"))[0])
    cnn_label = int(np.load(os.path.join(args.examples, "inputs", "digits_cnn_expected_label.npy"))[0])
    tmp = tempfile.mkdtemp(prefix="onyx-webcheck-")
    png = os.path.join(tmp, "digit.png")
    with open(png, "wb") as f:
        f.write(png_grey(np.round(x.reshape(8, 8) * 255)))
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    browser = subprocess.Popen([args.chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                f"--remote-debugging-port={port}", f"--user-data-dir={tmp}/profile", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with aiohttp.ClientSession() as http:
            targets = None
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/json/list") as r:
                        targets = [t for t in await r.json() if t.get("type") == "page"]
                        if targets:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
            check(bool(targets), "headless Chromium started")
            if not targets:
                return
            async with http.ws_connect(targets[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                cdp = CDP(ws)
                await cdp.call("Page.enable")
                await cdp.call("Page.navigate", url=args.url.rstrip("/") + "/")
                loaded = await cdp.wait_for("document.readyState==='complete' && !!document.querySelector('form.infer')")
                check(bool(loaded), "page loaded with try-it forms")

                # 1. Tabular form.
                mlp = 'document.querySelector(\'form.infer[data-model="digits_mlp"]\')'
                row = ",".join(f"{v:.6g}" for v in x)
                await cdp.eval(f"{mlp}.querySelector('textarea').value='{row}'; {mlp}.querySelector('button').click(); true")
                text = await cdp.wait_for(f"(t=>t.includes('label')?t:'')({mlp}.querySelector('pre.result').textContent)")
                print("     digits_mlp result:", (text or "").replace("\n", " | ")[:200])
                check(text is not None and f"label INT64 [1]: [{mlp_label}]" in text,
                      f"tabular form: digits_mlp shows label {mlp_label} (onnxruntime)")

                # 2. Image form: set the file input through DOM.setFileInputFiles, wait for the canvas, click.
                cnn = 'document.querySelector(\'form.infer[data-model="digits_cnn"]\')'
                doc = await cdp.call("DOM.getDocument")
                node = await cdp.call("DOM.querySelector", nodeId=doc["root"]["nodeId"],
                                      selector='form.infer[data-model="digits_cnn"] input.image')
                check(node.get("nodeId", 0) != 0, "digits_cnn has an image picker")
                await cdp.call("DOM.setFileInputFiles", files=[png], nodeId=node["nodeId"])
                await cdp.eval(f"(i=>{{i.dispatchEvent(new Event('change'));return true}})({cnn}.querySelector('input.image'))")
                drawn = await cdp.wait_for(
                    f"(c=>c.getContext('2d').getImageData(0,0,8,8).data.some(v=>v>0&&v<255))({cnn}.querySelector('canvas'))")
                check(bool(drawn), "image form: the picked image is drawn to the 8x8 canvas")
                await cdp.eval(f"{cnn}.querySelector('button').click(); true")
                text = await cdp.wait_for(f"(t=>t.includes('label')||t.includes(':')?t:'')({cnn}.querySelector('pre.result').textContent)")
                print("     digits_cnn result:", (text or "").replace("\n", " | ")[:200])
                check(text is not None and f"label INT64 [1]: [{cnn_label}]" in text,
                      f"image form: digits_cnn shows label {cnn_label} (onnxruntime on the same image)")

                # 3. Live stats.
                st = await cdp.wait_for("(t=>/[1-9][0-9]* ok/.test(t)?t:'')(document.querySelector('[data-stats=\"digits_mlp/1\"]').textContent)")
                check(bool(st), f"stats line of digits_mlp counts the request ({st})")
                if args.screenshot:
                    shot = await cdp.call("Page.captureScreenshot", format="png")
                    import base64
                    with open(args.screenshot, "wb") as f:
                        f.write(base64.b64decode(shot["data"]))
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()


asyncio.run(main())
print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
