#!/usr/bin/env python3
"""Draws the model card's failure-mode figure: panels of an image crop with the ground truth's
cell outlines (green) and the predicted cells' outlines (magenta), side by side, each with a
caption.

    python3 scripts/failure_figure.py OUT.png \
        --panel IMAGE GT_LABELS PRED_LABELS X Y SIZE "caption" [--panel ...]

IMAGE: the input as segmented (8-bit or 16-bit grey, or colour: shown as grey); GT_LABELS,
PRED_LABELS: label images (PNG or TIFF, 0 = background), e.g. a `samcell segment` output's
`<name>_masks.tif`; X, Y, SIZE: the square crop (clipped to the image); each panel is drawn at
256 x 256 (nearest neighbour). Needs numpy, Pillow and tifffile (with imagecodecs for
ZSTD-compressed TIFFs such as the E. coli frames).
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

PANEL = 256
CAPTION = 44


def read(path: Path) -> np.ndarray:
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        return np.asarray(tifffile.imread(path))
    return np.asarray(Image.open(path))


def grey8(img: np.ndarray) -> np.ndarray:
    if img.ndim == 3:
        img = img[..., :3].astype(np.float64).mean(axis=2)
    img = img.astype(np.float64)
    lo, hi = np.percentile(img, 0.5), np.percentile(img, 99.5)
    return np.clip((img - lo) / max(hi - lo, 1e-9) * 255.0, 0, 255).astype(np.uint8)


def outline(labels: np.ndarray) -> np.ndarray:
    """Pixels of a cell with a 4-neighbour outside it (another cell or background)."""
    edge = np.zeros(labels.shape, bool)
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    return edge & (labels > 0)


def panel(image, gt, pred, x, y, size, caption) -> Image.Image:
    grey, g, p = grey8(read(image)), read(gt), read(pred)
    if g.ndim == 3:
        g = g[..., 0]
    h, w = g.shape
    if grey.shape != (h, w) or p.shape[:2] != (h, w):
        sys.exit(f"{image}: image, ground truth and prediction differ in size")
    x0, y0 = min(x, max(w - size, 0)), min(y, max(h - size, 0))
    sl = (slice(y0, y0 + size), slice(x0, x0 + size))
    grey = grey[sl]
    rgb = np.repeat(grey[..., None], 3, axis=2)
    scale = PANEL / max(grey.shape)
    big = lambda a: np.asarray(
        Image.fromarray(a).resize(
            (round(a.shape[1] * scale), round(a.shape[0] * scale)), Image.NEAREST
        )
    )
    rgb = big(rgb).copy()
    for labels, colour in ((g[sl], (0, 230, 0)), (p[sl], (255, 0, 255))):
        # outlines at the display scale, so that they stay one pixel wide
        lab = big(labels.astype(np.int32))
        rgb[outline(lab)] = colour
    out = Image.new("RGB", (PANEL, PANEL + CAPTION), "white")
    out.paste(Image.fromarray(rgb), (0, 0))
    draw = ImageDraw.Draw(out)
    for k, line in enumerate(caption.split("|")):
        draw.text((4, PANEL + 4 + 13 * k), line.strip(), fill="black")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--panel", nargs=7, action="append", required=True,
                    metavar=("IMAGE", "GT", "PRED", "X", "Y", "SIZE", "CAPTION"))
    args = ap.parse_args()
    panels = [
        panel(Path(i), Path(g), Path(p), int(x), int(y), int(s), c)
        for i, g, p, x, y, s, c in args.panel
    ]
    gap = 6
    fig = Image.new("RGB", (len(panels) * (PANEL + gap) - gap, PANEL + CAPTION), "white")
    for k, im in enumerate(panels):
        fig.paste(im, (k * (PANEL + gap), 0))
    fig.save(args.out, optimize=True)
    print(f"{args.out}: {len(panels)} panels")


if __name__ == "__main__":
    main()
