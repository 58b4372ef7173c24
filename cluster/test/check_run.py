#!/usr/bin/env python3
"""Checks the output folder of a sharded samcell segment run after `samcell summarize`.

    check_run.py OUT IMAGES SHARDS [--redone NAME]... [--rerun-shards I...] [--logs FILE...]

IMAGES: the folder of input images (every *.png in it is one image of the batch); SHARDS: N.
Checks that
- every shard wrote run-shard-I-of-N.json and summary-shard-I-of-N.csv, and each record says
  it is shard I of N;
- each image is in exactly one shard record; in a first run (no --redone) each was segmented
  (status ok), in a re-run only the images named by --redone were segmented and every other one
  was skipped as finished (when only the shards --rerun-shards names ran again, the records of
  the others are those of the first run: status ok);
- every image has its outputs (_masks.tif, _overlay.png, _cells.csv, _run.json);
- run.json names each image once, none failed, and summary.csv has one row per image;
- with --logs: the logs of the shards say each segmented image was segmented once (a line with
  its file name and its cell count) and nothing else was.
Prints what it checked; exits 1 with the reasons otherwise.
"""

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

OUTPUTS = ("_masks.tif", "_overlay.png", "_cells.csv", "_run.json")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("images", type=Path)
    ap.add_argument("shards", type=int)
    ap.add_argument("--redone", action="append", default=[])
    ap.add_argument("--rerun-shards", nargs="*", type=int, default=None)
    ap.add_argument("--logs", nargs="*", type=Path, default=None)
    a = ap.parse_args()

    errors: list[str] = []
    images = sorted(p for p in a.images.iterdir() if p.suffix == ".png")
    names = [p.stem for p in images]
    if not names:
        errors.append(f"no images in {a.images}")
    first_run = not a.redone

    where: dict[str, list[int]] = {n: [] for n in names}
    status: dict[str, str] = {}
    for i in range(a.shards):
        rec_path = a.out / f"run-shard-{i}-of-{a.shards}.json"
        csv_path = a.out / f"summary-shard-{i}-of-{a.shards}.csv"
        if not csv_path.is_file():
            errors.append(f"{csv_path.name} missing")
        try:
            rec = json.loads(rec_path.read_text())
        except (OSError, ValueError) as e:
            errors.append(f"{rec_path.name}: {e}")
            continue
        shard = rec.get("shard", {})
        if (shard.get("index"), shard.get("count")) != (i, a.shards):
            errors.append(f"{rec_path.name} says it is shard {shard.get('index')}/{shard.get('count')}")
        for r in rec.get("images", []):
            name = r.get("name")
            if name not in where:
                errors.append(f"{rec_path.name} has an image not in the batch: {name}")
                continue
            where[name].append(i)
            status[name] = r.get("status")
    for n in names:
        if len(where[n]) != 1:
            errors.append(f"{n} is in {len(where[n])} shard records ({where[n]}), not exactly one")
            continue
        untouched = a.rerun_shards is not None and where[n][0] not in a.rerun_shards
        want = "ok" if first_run or n in a.redone or untouched else "skipped"
        if status[n] != want:
            errors.append(f"{n}: status {status[n]!r} in shard {where[n][0]}, expected {want!r}")
        for suffix in OUTPUTS:
            if not (a.out / f"{n}{suffix}").is_file():
                errors.append(f"{n}{suffix} missing")
    per_shard = Counter(s[0] for s in where.values() if len(s) == 1)

    try:
        run = json.loads((a.out / "run.json").read_text())
        merged = Counter(r.get("name") for r in run.get("images", []))
        if set(merged) != set(names) or any(c != 1 for c in merged.values()):
            errors.append(f"run.json images {dict(merged)} are not each image once")
        failed = [r.get("name") for r in run.get("images", []) if r.get("status") == "failed"]
        if failed:
            errors.append(f"run.json: failed images {failed}")
    except (OSError, ValueError) as e:
        errors.append(f"run.json: {e}")
    try:
        with open(a.out / "summary.csv", newline="") as f:
            rows = list(csv.reader(f))
        if len(rows) - 1 != len(names):
            errors.append(f"summary.csv has {len(rows) - 1} rows for {len(names)} images")
    except OSError as e:
        errors.append(f"summary.csv: {e}")

    if a.logs is not None:
        segmented = set(names) if first_run else set(a.redone)
        text = "\n".join(p.read_text(errors="replace") for p in a.logs)
        for p in images:
            count = sum(1 for line in text.splitlines() if p.name in line and " cells, " in line)
            want = 1 if p.stem in segmented else 0
            if count != want:
                errors.append(f"the logs say {p.name} was segmented {count} times, expected {want}")

    if errors:
        print("check_run: " + str(len(errors)) + " problem(s) in " + str(a.out), file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    shares = ", ".join(f"shard {i}: {per_shard.get(i, 0)}" for i in range(a.shards))
    if first_run:
        mode = "all segmented once"
    elif a.rerun_shards is None:
        mode = f"re-run, {len(a.redone)} redone, the others skipped"
    else:
        mode = f"shards {a.rerun_shards} re-run, {len(a.redone)} redone, the others skipped or left"
    print(f"check_run: {len(names)} images, each in one shard ({shares}); {mode}; run.json and summary.csv whole")
    return 0


if __name__ == "__main__":
    sys.exit(main())
