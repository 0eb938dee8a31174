#!/usr/bin/env python3
"""Compressed request bodies for the server tests (ServerTests.compressedRequestBodies) and Inflate's gzip tests.

Run with any Python 3 (standard library only):
    python scripts/make_gzip_fixtures.py Tests/OnyxTests/Fixtures/compressed
Writes, for one v2 JSON infer request to identity_fp32 (request.json):
- request.json.gz: gzip from Python's gzip module (file name in the header, fixed mtime);
- request.json.flags.gz: a gzip member built by hand with every optional header field (FEXTRA, FNAME, FCOMMENT,
  FHCRC) — checked to decode with Python's gzip.decompress;
- request.json.zlib: zlib.compress (HTTP `Content-Encoding: deflate` as RFC 9110 defines it);
- request.json.deflate: raw deflate (what some clients send as `deflate`);
- corrupt.gz: request.json.gz with one CRC-32 byte flipped (must be refused);
- bomb.gz: 8 MiB of spaces (inflates far beyond a small --max-request-bytes; must be refused with 413).
"""
import gzip
import io
import os
import struct
import sys
import zlib

out = sys.argv[1] if len(sys.argv) > 1 else "Tests/OnyxTests/Fixtures/compressed"
os.makedirs(out, exist_ok=True)
values = ",".join(str(v) for v in [1.5, -2.25, 3, 4e-3] * 8)
body = ('{"inputs":[{"name":"X","datatype":"FP32","shape":[8,4],"data":[%s]}]}' % values).encode()


def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


write("request.json", body)
buf = io.BytesIO()
with gzip.GzipFile(filename="request.json", mode="wb", fileobj=buf, mtime=0) as g:
    g.write(body)
gz = buf.getvalue()
write("request.json.gz", gz)

c = zlib.compressobj(9, zlib.DEFLATED, -15)
raw = c.compress(body) + c.flush()
header = bytes([0x1F, 0x8B, 8, 0x02 | 0x04 | 0x08 | 0x10]) + struct.pack("<I", 0) + bytes([2, 3])
header += struct.pack("<H", 6) + b"OX\x02\x00ab"  # FEXTRA: one subfield
header += b"request.json\x00" + b"made by make_gzip_fixtures.py\x00"
header += struct.pack("<H", zlib.crc32(header) & 0xFFFF)
flags = header + raw + struct.pack("<II", zlib.crc32(body), len(body))
assert gzip.decompress(flags) == body
write("request.json.flags.gz", flags)
write("request.json.zlib", zlib.compress(body))
write("request.json.deflate", raw)
bad = bytearray(gz)
bad[-8] ^= 0xFF
write("corrupt.gz", bytes(bad))
write("bomb.gz", gzip.compress(b" " * (8 << 20), mtime=0))
