#!/usr/bin/env python3
"""Builds the train / validation / test splits of samcell-lite 2 from the three public data sets.

    python3 scripts/lite_splits.py DATA_DIR WORK_DIR [--check models/samcell-lite2.data.sha256]

DATA_DIR holds usiigaci-phc/, dsb2018-train/ and bacteria-timelapse/ (see MODEL_CARD.md for their
sources and licences). Nothing is copied: WORK_DIR/split/ gets symbolic links only.

The rules (fixed, no random state):
- Usiigaci (45 images set1..set45): test = set5, set10, ..., set45 (n % 5 == 0, 9 images);
  validation = set3, set13, set23, set33, set43 (n % 10 == 3, 5 images); training = the other 31.
- DSB 2018 stage-1 train (664 images, named by their hex id): the first byte of the SHA-256 of the
  id, modulo 20: 0-2 test (~15 %), 3 validation (~5 %), 4-19 training.
- Bacteria time-lapse (frames t000..t039, dense whole-cell masks in 01_GT/TRA): a block split in
  time, because neighbouring frames are near copies: t000-t023 training, t024-t029 validation,
  t030-t039 test.

Layout written:
    WORK_DIR/split/train/{images,masks}/   every training image of all three sets; each Usiigaci
        image linked USIIGACI_REPEAT times and each bacteria frame BACTERIA_REPEAT times (names
        ..._r1, _r2, ...), so that one random crop per linked image per epoch gives the large
        frames their share next to DSB's many small ones
    WORK_DIR/split/val/{images,masks}/     the validation images of all three sets, once each
    WORK_DIR/split/test-<set>/{images,masks}/  the test images, one folder per set (never used for
        any choice; reported only)

It also writes WORK_DIR/split/data.sha256: `<sha256>  <path under DATA_DIR>  <split>` for every
source file (image and mask) in a fixed order. With --check FILE it compares that list against FILE and exits
1 on any difference (so a run reproduces the recorded splits from the same bytes).
"""

import argparse
import hashlib
import os
import sys
from pathlib import Path

USIIGACI_REPEAT = 8
BACTERIA_REPEAT = 4


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def usiigaci(data: Path):
    src = data / "usiigaci-phc" / "train"
    for n in range(1, 46):
        part = "test" if n % 5 == 0 else "val" if n % 10 == 3 else "train"
        yield part, f"usiigaci-set{n}", src / "images" / f"set{n}.tif", src / "masks" / f"set{n}.png"


def dsb(data: Path):
    src = data / "dsb2018-train"
    ids = sorted(p.stem for p in (src / "images").glob("*.png"))
    if len(ids) != 664:
        sys.exit(f"{src / 'images'}: expected 664 DSB 2018 images, found {len(ids)}")
    for i in ids:
        k = hashlib.sha256(i.encode()).digest()[0] % 20
        part = "test" if k <= 2 else "val" if k == 3 else "train"
        yield part, f"dsb-{i[:16]}", src / "images" / f"{i}.png", src / "labels" / f"{i}.png"


def bacteria(data: Path):
    src = data / "bacteria-timelapse"
    for t in range(40):
        part = "train" if t < 24 else "val" if t < 30 else "test"
        yield (
            part,
            f"bacteria-t{t:03d}",
            src / "01" / f"t{t:03d}.tif",
            src / "01_GT" / "TRA" / f"man_track{t:03d}.tif",
        )


SETS = {"usiigaci": (usiigaci, USIIGACI_REPEAT), "dsb": (dsb, 1), "bacteria": (bacteria, BACTERIA_REPEAT)}


def link(src: Path, dst: Path):
    if not src.is_file():
        sys.exit(f"{src}: missing (expected by the split rule)")
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(src.resolve(), dst)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("work", type=Path)
    ap.add_argument("--check", type=Path, help="recorded checksum list to compare against")
    args = ap.parse_args()

    out = args.work / "split"
    if out.exists():
        for root, dirs, files in os.walk(out, topdown=False):
            for f in files:
                os.unlink(os.path.join(root, f))
            for d in dirs:
                os.rmdir(os.path.join(root, d))
    out.mkdir(parents=True, exist_ok=True)

    sums = []
    counts = {}
    for name, (walk, repeat) in SETS.items():
        for part, stem, image, mask in walk(args.data):
            counts[(name, part)] = counts.get((name, part), 0) + 1
            for path in (image, mask):
                rel = path.relative_to(args.data).as_posix()
                sums.append(f"{sha256(path)}  {rel}  {part}")
            if part == "train":
                for r in range(1, repeat + 1):
                    tag = f"{stem}_r{r}" if repeat > 1 else stem
                    link(image, out / "train" / "images" / f"{tag}{image.suffix}")
                    link(mask, out / "train" / "masks" / f"{tag}{mask.suffix}")
            else:
                folder = "val" if part == "val" else f"test-{name}"
                link(image, out / folder / "images" / f"{stem}{image.suffix}")
                link(mask, out / folder / "masks" / f"{stem}{mask.suffix}")

    text = "".join(s + "\n" for s in sums)
    (out / "data.sha256").write_text(text)
    for (name, part), n in sorted(counts.items()):
        print(f"{name:9s} {part:5s} {n:4d} images")
    if args.check:
        want = args.check.read_text()
        if want != text:
            a, b = set(want.splitlines()), set(text.splitlines())
            for line in sorted(a - b)[:10]:
                print(f"recorded, not found: {line}", file=sys.stderr)
            for line in sorted(b - a)[:10]:
                print(f"found, not recorded: {line}", file=sys.stderr)
            sys.exit(f"{args.check}: the data or the split differs from the recorded one")
        print(f"{args.check}: all {len(sums)} files match")


if __name__ == "__main__":
    main()
