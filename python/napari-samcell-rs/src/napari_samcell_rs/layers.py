"""The widget's work without Qt: which model to load, the plane to segment, the layers a result
becomes and the threshold rerun. Everything runs through samcell_rs; nothing here segments."""

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

import samcell_rs

#: The model choices of the widget: samcell's built-in models (``lite``: the phase-contrast cell
#: model, with the nuclei model for images unlike phase-contrast cells; ``lite-cells`` and
#: ``lite-nuclei`` either alone), the published SAMCell models (looked up in $SAMCELL_MODEL_DIR or
#: the user cache and downloaded once), a checkpoint file.
MODELS = ("lite", "lite-cells", "lite-nuclei", "generalist", "cyto", "file")

LayerData = Tuple[Any, Dict[str, Any], str]

_segmenters: Dict[str, "samcell_rs.Segmenter"] = {}


def model_spec(choice: str, path: Union[None, str, Path] = None) -> str:
    """The ``Segmenter`` model argument of a widget choice (``"file"`` takes ``path``)."""
    if choice == "file":
        if path is None or str(path) in ("", "."):
            raise ValueError("choose a checkpoint file for the model 'file'")
        return str(path)
    if choice not in MODELS:
        raise ValueError(f"model {choice!r}: expected one of {', '.join(MODELS)}")
    return choice


def segmenter(spec: str) -> "samcell_rs.Segmenter":
    """The model of ``spec``, loaded once per process (loading a SAM model takes seconds)."""
    if spec not in _segmenters:
        _segmenters[spec] = samcell_rs.Segmenter(spec)
    return _segmenters[spec]


def image_plane(
    data: Any, rgb: bool = False, current_step: Optional[Sequence[int]] = None
) -> np.ndarray:
    """The 2-D plane of an image layer's data to segment: the data itself when 2-D, otherwise the
    plane at the viewer's current position (``current_step``, the viewer's dims, whose last
    entries are the layer's). RGB layers are refused: samcell segments one grey channel."""
    if rgb:
        raise ValueError("an RGB layer: convert it to one grey channel first")
    if isinstance(data, (list, tuple)):  # multiscale: the full-resolution level
        data = data[0]
    ndim = len(data.shape)
    if ndim < 2:
        raise ValueError(f"a {ndim}-D layer: expected an image of at least 2 dimensions")
    if ndim > 2:
        step = list(current_step or [])
        lead = step[-ndim:-2] if len(step) >= ndim else [0] * (ndim - 2)
        index = tuple(min(max(int(i), 0), n - 1) for i, n in zip(lead, data.shape[:-2]))
        data = data[index]
    return np.asarray(data)


def segmentation_layers(
    result: "samcell_rs.Segmentation",
    name: str,
    scale: Optional[Sequence[float]] = None,
    translate: Optional[Sequence[float]] = None,
) -> List[LayerData]:
    """The layers of a result: the distance map (an image, hidden at first) and the labels,
    named after the image and placed over it."""
    place: Dict[str, Any] = {}
    if scale is not None:
        place["scale"] = tuple(scale)
    if translate is not None:
        place["translate"] = tuple(translate)
    return [
        (
            result.distance_map,
            {
                "name": distance_map_name(name),
                "colormap": "magma",
                "contrast_limits": (0.0, 1.0),
                "visible": False,
                **place,
            },
            "image",
        ),
        (
            result.labels,
            {
                "name": labels_name(name),
                "metadata": {
                    "peak": result.peak,
                    "fill": result.fill,
                    "n_cells": result.n_cells,
                    "warnings": list(result.warnings),
                },
                **place,
            },
            "labels",
        ),
    ]


def labels_name(name: str) -> str:
    return f"{name} masks"


def distance_map_name(name: str) -> str:
    return f"{name} distance map"


def rethreshold(
    seg: "samcell_rs.Segmenter", distance_map: np.ndarray, peak: float, fill: float
) -> "samcell_rs.Segmentation":
    """The post-processing alone on a stored distance map (``Segmenter.postprocess``); bad
    thresholds raise ``ValueError`` with samcell's message."""
    return seg.postprocess(distance_map, peak=peak, fill=fill)
