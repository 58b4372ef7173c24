"""samcell's Rust core: SAMCell segmentation, per-cell measurements, CTC evaluation and cell
tracking on NumPy arrays.

>>> import numpy as np, samcell_rs
>>> result = samcell_rs.Segmenter().segment(image)
>>> cells = samcell_rs.measure(result.labels, image)
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str
DEFAULT_PEAK: float
DEFAULT_FILL: float

class Segmentation:
    """The result of :meth:`Segmenter.segment` or :meth:`Segmenter.postprocess`."""

    labels: npt.NDArray[np.uint32]
    """Cell labels (H, W): 1..N in raster order of each cell's first pixel, 0 background."""
    distance_map: npt.NDArray[np.float32]
    """The blended distance map (H, W)."""
    peak: float
    """Seed threshold used (seeds where ``distance_map > peak``)."""
    fill: float
    """Extent threshold used (cells grow where ``distance_map > fill``)."""
    n_cells: int
    """Number of cells N."""
    timings: Dict[str, float]
    """Seconds per stage: ``scale``, ``tiling``, ``enhance``, ``predict``, ``blend``,
    ``postprocess`` and ``total`` (``postprocess`` and ``total`` after :meth:`Segmenter.postprocess`)."""
    warnings: List[str]
    """Notes on the result, empty when there are none. With the built-in model: one sentence
    when the image looks unlike its phase-contrast training data (an unfamiliar background
    level, or a distance map with few or no pixels at the seed level), ending with
    ``try Segmenter(model="generalist")``. After :meth:`Segmenter.postprocess` only the map's
    signs (it has no image); with another model always empty."""

class Segmenter:
    """A segmentation model, loaded once, with samcell's pipeline around it.

    ``model``: ``None`` (the built-in samcell-lite models, as ``samcell segment`` without
    ``--model``: the phase-contrast cell model, and the nuclei model for images that look unlike
    phase-contrast cells), ``"lite"`` (the same), ``"lite-cells"`` or ``"lite-nuclei"`` (either
    alone), ``"lite:PATH"``, a published SAMCell name (``"generalist"``,
    ``"cyto"``: looked up in ``$SAMCELL_MODEL_DIR`` or the user cache and downloaded once) or the
    path of a checkpoint. ``device``: ``"cpu"`` or ``"cuda"``. ``precision``: ``None``/``"f32"``
    or ``"bf16"`` (SAM only). ``threads``: threads for the whole process, ``None`` for every core.

    Raises ``ValueError`` for an unknown name or a missing file, ``OSError`` when a download
    fails, ``RuntimeError`` when the model cannot be loaded.

    >>> seg = samcell_rs.Segmenter("generalist")
    >>> result = seg.segment(image)
    """

    def __init__(
        self,
        model: Optional[str] = None,
        device: str = "cpu",
        precision: Optional[str] = None,
        threads: Optional[int] = None,
    ) -> None: ...
    @property
    def model_info(self) -> Dict[str, Any]:
        """``path``, ``name``, ``url``, ``sha256``, ``config``, ``variant``, ``format``,
        ``predictor`` and, for the default lite model, ``fallback`` (the nuclei model's own
        dict), as ``run.json`` records the model."""
    @property
    def tiling(self) -> Tuple[int, int]:
        """Crop size and overlap in pixels (the model's own)."""
    @property
    def threads(self) -> int:
        """Threads in effect for the process."""
    def segment(
        self,
        image: npt.ArrayLike,
        percentile: Optional[Tuple[float, float]] = None,
        peak: Optional[float] = None,
        fill: Optional[float] = None,
        scale: Optional[float] = None,
    ) -> Segmentation:
        """Segments one 2-D grey image; the GIL is released meanwhile.

        uint8 is used as it is; wider integers and floats are scaled to 8 bits over the whole
        image as ``samcell segment`` scales such a file: min-max, or between the two
        ``percentile`` values ``(low, high)``. ``peak``/``fill`` default to 0.47/0.09.
        ``scale`` (0.25-4, default 1) resizes the image for the model (``--scale``: 2 for
        objects smaller than it learned); the results keep the image's shape. The built-in
        nuclei model's warnings suggest ``scale=2`` for objects under 14 px across.
        A 3-D, empty or non-numeric array, NaN values or bad thresholds raise ``ValueError``.

        >>> result = seg.segment(image, percentile=(1, 99))
        >>> result.n_cells, result.timings["predict"]
        """
    def postprocess(
        self,
        distance_map: npt.ArrayLike,
        peak: float = ...,
        fill: float = ...,
    ) -> Segmentation:
        """Reruns only the post-processing on a float distance map (H, W). With the built-in
        model, ``warnings`` weighs the map alone at these thresholds (the background sign needs
        the image: :meth:`segment`).

        >>> again = seg.postprocess(result.distance_map, peak=0.5, fill=0.1)
        """

def measure(
    labels: npt.ArrayLike,
    image: Optional[npt.ArrayLike] = None,
    pixel_size: Union[None, float, Tuple[float, float], str] = None,
) -> Dict[str, npt.NDArray[Any]]:
    """Per-cell measurements: the columns of ``<name>_cells.csv`` as 1-D arrays, in its order.

    ``image`` adds the intensity columns (its own values); ``pixel_size`` (µm per pixel: a
    number, ``(x, y)`` or a string such as ``"0.65um"``) adds the ``_um`` columns.

    >>> import pandas as pd
    >>> cells = pd.DataFrame(samcell_rs.measure(result.labels, image, pixel_size=0.65))
    """

def evaluate(pred: npt.ArrayLike, gt: npt.ArrayLike) -> Dict[str, Any]:
    """CTC ``seg``, ``det``, ``op_csb``, ``ap`` per ``ap_thresholds``, ``ap_mean``, ``f1_50``
    and the counts behind them, as ``samcell eval`` computes them; undefined scores are NaN.

    >>> samcell_rs.evaluate(result.labels, ground_truth)["op_csb"]
    """

class Tracked:
    """The result of :func:`track`: what ``samcell track --labels`` writes, as arrays."""

    masks: npt.NDArray[np.uint32]
    """Tracked masks (T, H, W): each cell labelled with its track id, 0 background
    (the content of ``maskTTT.tif``)."""
    lineage: npt.NDArray[np.int64]
    """(n, 4): one row ``L B E P`` per track (id, first frame, last frame, parent or 0), as
    ``res_track.txt``."""
    divisions: npt.NDArray[np.int64]
    """(k, 4): one row ``frame, parent, daughter, daughter`` per division."""
    tracks: Dict[str, npt.NDArray[Any]]
    """The ``tracks.csv`` columns (one row per cell per frame): ``frame``, ``time_<unit>``,
    ``track_id``, ``parent``, then the per-cell measurements of ``_cells.csv``."""
    growth: Dict[str, npt.NDArray[Any]]
    """The ``growth.csv`` columns (one row per frame): ``frame``, ``time_<unit>``, ``count``,
    ``confluency``, ``mean_area_px2``, ``divisions``."""
    time_unit: str
    """``s``, ``min``, ``h`` or ``frames`` (without a frame interval)."""
    doubling: Optional[Dict[str, Any]]
    """The doubling-time fit of the count (``first``, ``last``, ``rate``, ``doubling``, ``r2``),
    or ``None`` with too few frames with cells."""
    @property
    def n_tracks(self) -> int: ...
    @property
    def n_divisions(self) -> int: ...

def track(
    frames: Union[Sequence[npt.ArrayLike], npt.ArrayLike],
    frame_interval: Union[None, str, float] = None,
    images: Optional[Sequence[npt.ArrayLike]] = None,
    min_iou: float = 0.1,
    max_gap: int = 2,
) -> Tracked:
    """Links a time series of label images as ``samcell track --labels`` does (IoU with motion
    prediction, optimal assignment, divisions, gap closing); the GIL is released meanwhile.

    ``frames``: 2-D integer label arrays of one size, or a 3-D (T, H, W) array (any label
    values, 0 background). ``frame_interval``: ``"30min"``, ``"90s"``, ``"1.5h"`` or a number
    of seconds; without it time is in frames. ``images``: the grey frames, for the intensity
    columns of ``tracks``. ``min_iou``/``max_gap``: ``--min-iou``/``--max-gap``. Frames of
    different sizes, non-integer labels or bad settings raise ``ValueError`` with the program's
    message.

    >>> import pandas as pd
    >>> seg = samcell_rs.Segmenter()
    >>> t = samcell_rs.track([seg.segment(f).labels for f in frames], frame_interval="10min")
    >>> t.masks.shape, t.lineage[:3]          # (T, H, W); rows L B E P
    >>> tracks = pd.DataFrame(t.tracks)       # one row per cell per frame
    >>> growth = pd.DataFrame(t.growth)       # count, confluency per frame
    """
