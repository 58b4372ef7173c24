"""Reader of ``samcell segment``'s outputs: a folder (searched recursively, as ``--recursive``
mirrors the input tree) or one ``<name>_masks.tif``. Per mask file, in drawing order:

- the image (``<name>``), when the run record names its file and the file is found: the
  ``input`` of ``<name>_run.json`` (or of the ``images`` of ``run.json``), as given or relative
  to the output folder's parents; page ``page`` of a multi-page TIFF;
- the distance map (``<name> distance map``, hidden) when ``<name>_distmap.tif`` was saved;
- the masks as labels (``<name> masks``).

All are scaled by the record's ``pixel_size_um`` (x, y) when it has one, so that measurements in
napari are in µm.
"""

import json
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from .layers import LayerData, distance_map_name, labels_name

MASKS = "_masks.tif"

PathLike = Union[str, Path]


def napari_get_reader(path: Union[PathLike, Sequence[PathLike]]):
    """The reader for ``path`` when it is samcell output, else ``None`` (napari asks the next
    plugin)."""
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(path)
    if p.is_dir():
        return read_samcell if mask_files(p) else None
    if p.is_file() and p.name.endswith(MASKS):
        return read_samcell
    return None


def mask_files(folder: Path) -> List[Path]:
    """The ``*_masks.tif`` files under ``folder``, in name order."""
    return sorted(folder.rglob(f"*{MASKS}"))


def read_samcell(path: Union[PathLike, Sequence[PathLike]]) -> List[LayerData]:
    """The layers of every mask file of ``path`` (module docs)."""
    if isinstance(path, (list, tuple)):
        return [layer for p in path for layer in read_samcell(p)]
    p = Path(path)
    files = mask_files(p) if p.is_dir() else [p]
    if not files:
        raise ValueError(f"{p}: no *{MASKS} files (samcell segment's masks)")
    layers: List[LayerData] = []
    for masks in files:
        layers.extend(output_layers(masks))
    return layers


def output_layers(masks: Path) -> List[LayerData]:
    """The image, distance map and labels of one ``<name>_masks.tif``."""
    import tifffile

    name = masks.name[: -len(MASKS)]
    folder = masks.parent
    record = image_record(folder, name)
    place: Dict[str, Any] = {}
    size = (record or {}).get("pixel_size_um")
    if size:
        place["scale"] = (float(size[1]), float(size[0]))
    meta = {"samcell": record} if record else {}
    layers: List[LayerData] = []
    image = read_input(record, folder) if record else None
    if image is not None:
        layers.append((image, {"name": name, **place}, "image"))
    distmap = folder / f"{name}_distmap.tif"
    if distmap.is_file():
        layers.append(
            (
                tifffile.imread(distmap),
                {
                    "name": distance_map_name(name),
                    "colormap": "magma",
                    "contrast_limits": (0.0, 1.0),
                    "visible": False,
                    **place,
                },
                "image",
            )
        )
    labels = tifffile.imread(masks)
    layers.append((labels, {"name": labels_name(name), "metadata": meta, **place}, "labels"))
    return layers


def image_record(folder: Path, name: str) -> Optional[Dict[str, Any]]:
    """The run record of image ``name`` in ``folder``: ``<name>_run.json``'s ``image``, else
    the entry of that name in ``run.json`` (or a shard's ``run-shard-*.json``); ``None``
    without one."""
    own = folder / f"{name}_run.json"
    if own.is_file():
        record = _json(own)
        if isinstance(record, dict) and isinstance(record.get("image"), dict):
            return record["image"]
    for run in [folder / "run.json", *sorted(folder.glob("run-shard-*.json"))]:
        if not run.is_file():
            continue
        record = _json(run)
        for image in (record or {}).get("images", []) if isinstance(record, dict) else []:
            if isinstance(image, dict) and image.get("name") == name:
                return image
    return None


def read_input(record: Dict[str, Any], folder: Path) -> Optional[np.ndarray]:
    """The image file the record names, as an array; ``None`` (with a warning) when it is not
    found or cannot be read."""
    given = record.get("input")
    if not given:
        return None
    source = Path(given)
    candidates = [source] if source.is_absolute() else [
        source,
        *(parent / source for parent in [folder, *folder.resolve().parents]),
    ]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        warnings.warn(f"{given}: the segmented image was not found; showing the masks only")
        return None
    page = int(record.get("page") or 0)
    try:
        if found.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            return tifffile.imread(found, key=page)
        from PIL import Image

        with Image.open(found) as im:
            im.seek(page)
            return np.asarray(im)
    except Exception as e:  # an unreadable image leaves the masks to show
        warnings.warn(f"{found}: cannot read the image ({e}); showing the masks only")
        return None


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
