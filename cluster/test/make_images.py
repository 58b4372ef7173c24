#!/usr/bin/env python3
"""Writes small synthetic phase-contrast-like images for the cluster recipe tests.

    make_images.py DIR [COUNT]

COUNT (default 6) 8-bit grey PNGs named cells_00.png, cells_01.png, ... of different sizes
(so that shards balanced by pixel count get different numbers of images): a noisy grey
background with dark round cells in bright halos. Python's standard library only; the same
images every time (seeded).
"""

import math
import random
import struct
import sys
import zlib
from pathlib import Path

SIZES = [(160, 120), (96, 96), (256, 192), (128, 160), (200, 100), (112, 144), (180, 180), (144, 96)]


def png_gray8(width: int, height: int, pixels: bytearray) -> bytes:
    """A grey 8-bit PNG of `pixels` (row-major, width * height bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes(pixels[y * width:(y + 1) * width]) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 6))
            + chunk(b"IEND", b""))


def image(width: int, height: int, rng: random.Random) -> bytearray:
    """Background ~120 with noise; cells of radius 6-11 px: dark inside, bright rim."""
    cells = []
    for _ in range(max(3, width * height // 1500)):
        cells.append((rng.uniform(0, width), rng.uniform(0, height), rng.uniform(6, 11)))
    pixels = bytearray(width * height)
    for y in range(height):
        for x in range(width):
            v = 120.0 + rng.gauss(0, 6)
            for cx, cy, r in cells:
                d = math.hypot(x - cx, y - cy)
                if d < r:
                    v = 70.0 + 20.0 * d / r + rng.gauss(0, 6)
                elif d < r + 3:
                    v = max(v, 200.0 - 20.0 * (d - r))
            pixels[y * width + x] = max(0, min(255, int(v)))
    return pixels


def main() -> None:
    out = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20251205)
    for i in range(count):
        width, height = SIZES[i % len(SIZES)]
        (out / f"cells_{i:02d}.png").write_bytes(png_gray8(width, height, image(width, height, rng)))


if __name__ == "__main__":
    main()
