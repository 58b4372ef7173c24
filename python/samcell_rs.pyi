"""samcell's Rust core: SAMCell segmentation, per-cell measurements and CTC evaluation on NumPy
arrays.

>>> import numpy as np, samcell_rs
>>> result = samcell_rs.Segmenter().segment(image)
>>> cells = samcell_rs.measure(result.labels, image)
"""

from typing import Any, Dict, Optional, Tuple, Union

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

class Segmenter:
    """A segmentation model, loaded once, with samcell's pipeline around it.

    ``model``: ``None`` (the built-in samcell-lite model, as ``samcell segment`` without
    ``--model``), ``"lite"``, ``"lite:PATH"``, a published SAMCell name (``"generalist"``,
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
    def model_info(self) -> Dict[str, Optional[str]]:
        """``path``, ``name``, ``url``, ``sha256``, ``config``, ``variant``, ``format``,
        ``predictor`` (as ``run.json`` records the model)."""
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
    ) -> Segmentation:
        """Segments one 2-D grey image; the GIL is released meanwhile.

        uint8 is used as it is; wider integers and floats are scaled to 8 bits over the whole
        image as ``samcell segment`` scales such a file: min-max, or between the two
        ``percentile`` values ``(low, high)``. ``peak``/``fill`` default to 0.47/0.09.
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
        """Reruns only the post-processing on a float distance map (H, W).

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
