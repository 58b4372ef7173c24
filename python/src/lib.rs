//! `samcell_rs`: samcell's Rust core for Python, on NumPy arrays.
//!
//! Everything here is glue: arrays in and out, errors as Python exceptions, the GIL released
//! while the work runs. The work itself is the workspace's: model resolution, cache and download
//! (`samcell_batch::models`, the rules of `samcell segment --model`), the thread settings
//! (`samcell_batch::threads`), the scaling of wide samples to 8 bits
//! (`samcell_io::read::gray::scale_to_u8`), the pipeline (`samcell_pipeline`), the `_cells.csv`
//! table (`samcell_measure::csv::cells_table`), the CTC/AP evaluation
//! (`samcell_measure::evaluate_labels`) and the tracking (`samcell_track`: the linker, the
//! relabelling by track id and the rows of `tracks.csv` and `growth.csv`, as `samcell track`
//! writes them).
//!
//! Arrays: inputs are read once into the Rust types (a copy that also makes them safe to use
//! while other Python threads run); outputs hand their Rust buffers to NumPy without a copy.
//! Errors: `ValueError` for bad input (shapes, dtypes, thresholds, an unknown model name or a
//! missing model file), `OSError` for a failed download, `RuntimeError` for the rest, each with
//! the message the command line prints.

// pyo3's macros expand to unsafe FFI code, so `unsafe_code` can only be denied, not forbidden
// (the generated code allows it locally); this crate writes no unsafe block of its own.
#![deny(unsafe_code)]

use numpy::ndarray::{Array2, Array3};
use numpy::{PyArray2, PyArray3, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString};
use samcell_batch::download::NoProgress;
use samcell_batch::models::{self, LoadError, ModelRequest};
use samcell_batch::ModelInfo;
use samcell_imaging::{GrayU8, Labels, MapF32};
use samcell_io::read::gray::{check_percentiles, scale_to_u8};
use samcell_io::{RawGray, RawValues, SampleType, Scaling};
use samcell_measure::csv::Column;
use samcell_measure::{Intensity, MeasureConfig, MeasureError};
use samcell_pipeline::{PipelineError, SegmentConfig, StageTimings, DEFAULT_FILL, DEFAULT_PEAK};
use samcell_track::tables::GrowthRow;
use samcell_track::{FrameInterval, Timeline, TrackConfig, TrackError, Tracker};
use std::sync::Arc;
use std::time::Instant;

/// A segmentation model, loaded once, with samcell's pipeline around it.
///
/// ``model``: ``None`` (the built-in samcell-lite models, as ``samcell segment`` without
/// ``--model``: the phase-contrast cell model, and the nuclei model for images that look unlike
/// phase-contrast cells), ``"lite"`` (the same), ``"lite-cells"`` or ``"lite-nuclei"`` (either
/// alone), ``"lite:PATH"``, a published SAMCell name (``"generalist"``,
/// ``"cyto"``: looked up in ``$SAMCELL_MODEL_DIR`` or the user cache and downloaded once) or the
/// path of a checkpoint. ``device``: ``"cpu"`` or ``"cuda"``. ``precision``: ``None``/``"f32"``
/// or ``"bf16"`` (SAM only). ``threads``: threads for the whole process (rayon's pool and the
/// tensor kernels; set once per process), ``None`` for every core.
///
/// >>> import numpy as np, samcell_rs
/// >>> seg = samcell_rs.Segmenter()
/// >>> result = seg.segment(np.zeros((64, 64), np.uint16))
/// >>> result.labels.shape, result.labels.dtype
/// ((64, 64), dtype('uint32'))
#[pyclass(module = "samcell_rs", frozen)]
struct Segmenter {
    segmenter: samcell_pipeline::Segmenter,
    info: ModelInfo,
    threads: usize,
}

/// The result of :meth:`Segmenter.segment` or :meth:`Segmenter.postprocess`.
///
/// ``labels``: uint32 (H, W), cells 1..N in raster order of their first pixel, 0 background.
/// ``distance_map``: float32 (H, W), the blended distance map. ``peak``, ``fill``: the thresholds
/// used. ``n_cells``: N. ``timings``: seconds per stage (``scale``, ``tiling``, ``enhance``,
/// ``predict``, ``blend``, ``postprocess``, ``total``). ``warnings``: notes on the result, a
/// list of str, empty when there are none: with the built-in model, a sentence when the image
/// looks unlike its training data (an unfamiliar background level, or a distance map with
/// few or no pixels at the seed level), suggesting ``Segmenter(model="generalist")``; with the
/// default ``lite`` model such an image is segmented by the built-in nuclei model instead, and
/// the sentence says so. :meth:`Segmenter.postprocess` has no image: its note weighs the map
/// alone, as the cell model's map.
#[pyclass(module = "samcell_rs", frozen)]
struct Segmentation {
    #[pyo3(get)]
    labels: Py<PyArray2<u32>>,
    #[pyo3(get)]
    distance_map: Py<PyArray2<f32>>,
    #[pyo3(get)]
    peak: f32,
    #[pyo3(get)]
    fill: f32,
    #[pyo3(get)]
    n_cells: usize,
    #[pyo3(get)]
    timings: Py<PyDict>,
    #[pyo3(get)]
    warnings: Vec<String>,
}

#[pymethods]
impl Segmentation {
    fn __repr__(&self, py: Python<'_>) -> String {
        let shape = self.labels.bind(py).shape().to_vec();
        format!(
            "Segmentation(n_cells={}, shape=({}, {}), peak={}, fill={})",
            self.n_cells, shape[0], shape[1], self.peak, self.fill
        )
    }
}

#[pymethods]
impl Segmenter {
    #[new]
    #[pyo3(signature = (model=None, device="cpu", precision=None, threads=None))]
    fn new(
        py: Python<'_>,
        model: Option<String>,
        device: &str,
        precision: Option<&str>,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        let cuda = match device {
            "cpu" => false,
            "cuda" => true,
            other => {
                return Err(PyValueError::new_err(format!(
                    "device {other:?}: expected \"cpu\" or \"cuda\""
                )))
            }
        };
        let dtype = match precision {
            None | Some("f32") => candle_core::DType::F32,
            Some("bf16") => candle_core::DType::BF16,
            Some(other) => {
                return Err(PyValueError::new_err(format!(
                    "precision {other:?}: expected \"f32\" or \"bf16\""
                )))
            }
        };
        if threads == Some(0) {
            return Err(PyValueError::new_err("threads must be at least 1"));
        }
        let threads = samcell_batch::threads::configure(threads);
        let loaded = py.detach(|| {
            let req = ModelRequest {
                spec: model.as_deref(),
                model_config: None,
                model_dir: None,
                cuda,
                dtype,
                batch_size: models::DEFAULT_BATCH_SIZE,
            };
            models::load(&req, &mut NoProgress).map_err(load_error)
        })?;
        let config = SegmentConfig::default();
        Ok(Self {
            segmenter: loaded.segmenter(config),
            info: loaded.info,
            threads,
        })
    }

    /// The model's identity: ``path``, ``name``, ``url``, ``sha256``, ``variant``, ``format``,
    /// ``predictor`` and, for the default lite model, ``fallback`` (the nuclei model's own dict),
    /// as ``run.json`` records it.
    #[getter]
    fn model_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value =
            serde_json::to_value(&self.info).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        json_to_py(py, &value, false)
    }

    /// The crop size and overlap images are cut with (the model's own), in pixels.
    #[getter]
    fn tiling(&self) -> (usize, usize) {
        let t = self.segmenter.tiling();
        (t.crop, t.overlap)
    }

    /// Threads in effect for the process.
    #[getter]
    fn threads(&self) -> usize {
        self.threads
    }

    /// Segments one 2-D grey image (uint8 as it is; wider integers and floats scaled to 8 bits
    /// over the whole image as ``samcell segment`` scales a 16-bit or float file: min-max, or
    /// between two ``percentile`` values ``(low, high)``). ``peak`` and ``fill`` are the
    /// post-processing thresholds (defaults 0.47 and 0.09). ``scale`` resizes the image before
    /// the model (``samcell segment --scale``: 2 for objects smaller than the model learned;
    /// default: 1, or the built-in nuclei model's 2 for small objects); the labels and the map
    /// keep the image's shape. The GIL is released meanwhile.
    ///
    /// >>> result = seg.segment(image, percentile=(1, 99))
    /// >>> result.n_cells, result.timings["predict"]
    #[pyo3(signature = (image, percentile=None, peak=None, fill=None, scale=None))]
    fn segment(
        &self,
        py: Python<'_>,
        image: &Bound<'_, PyAny>,
        percentile: Option<(f64, f64)>,
        peak: Option<f32>,
        fill: Option<f32>,
        scale: Option<f32>,
    ) -> PyResult<Segmentation> {
        let scaling = match percentile {
            Some((lo, hi)) => {
                check_percentiles(lo, hi)
                    .map_err(|e| PyValueError::new_err(format!("percentile: {e}")))?;
                Scaling::Percentile(lo, hi)
            }
            None => Scaling::MinMax,
        };
        let (peak, fill) = thresholds(peak, fill)?;
        if let Some(s) = scale {
            samcell_pipeline::check_scale(s).map_err(|e| PyValueError::new_err(e.to_string()))?;
        }
        let raw = raw_gray(image)?;
        let mut segmenter = samcell_pipeline::Segmenter::new(
            Arc::clone(self.segmenter.predictor()),
            SegmentConfig {
                peak,
                fill,
                scale,
                ..*self.segmenter.config()
            },
        );
        if let Some(f) = self.segmenter.fallback() {
            segmenter = segmenter.with_fallback(Arc::clone(f));
        }
        let (seg, scale_time, warnings) = py.detach(|| {
            let t = Instant::now();
            let gray = to_u8(&raw, &scaling, "image")?;
            let scale_time = t.elapsed().as_secs_f64();
            let seg = segmenter.segment(&gray).map_err(pipeline_error)?;
            let mut warnings = if !seg.routed.is_empty() {
                self.route_warnings(&seg.routed)
            } else if segmenter.fallback().is_some() {
                // the segmenter has weighed the same signs at these thresholds: none
                Vec::new()
            } else {
                self.domain_warnings(Some(&gray), &seg.distance_map, peak, fill)
            };
            if let (Some(rule), Some(px)) = (seg.small_objects, seg.object_px) {
                warnings.push(samcell_pipeline::size::small_objects_message(
                    px, &rule, "scale=",
                ));
            }
            Ok::<_, PyErr>((seg, scale_time, warnings))
        })?;
        let mut timings = vec![("scale", scale_time)];
        timings.extend(stage_timings(&seg.timings));
        let total = timings.iter().map(|(_, s)| s).sum();
        timings.push(("total", total));
        segmentation(
            py,
            seg.labels,
            seg.distance_map,
            seg.n_cells,
            (peak, fill),
            &timings,
            warnings,
        )
    }

    /// Reruns only the post-processing on a distance map (float32 (H, W), e.g. a previous
    /// result's ``distance_map``): seeds where ``map > peak``, cells grown where ``map > fill``.
    /// ``warnings``: with the built-in model, the signs of the map alone at these thresholds
    /// (empty, or few pixels at the seed level); the background sign needs the image
    /// (:meth:`segment`).
    ///
    /// >>> again = seg.postprocess(result.distance_map, peak=0.5, fill=0.1)
    #[pyo3(signature = (distance_map, peak=DEFAULT_PEAK, fill=DEFAULT_FILL))]
    fn postprocess(
        &self,
        py: Python<'_>,
        distance_map: &Bound<'_, PyAny>,
        peak: f32,
        fill: f32,
    ) -> PyResult<Segmentation> {
        let (peak, fill) = thresholds(Some(peak), Some(fill))?;
        let map = float_map(distance_map)?;
        let (map, labels, n_cells, seconds, warnings) = py.detach(|| {
            let t = Instant::now();
            let (labels, n) = samcell_pipeline::labels_from_distance_map(&map, peak, fill)
                .map_err(pipeline_error)?;
            let seconds = t.elapsed().as_secs_f64();
            // no image: the map's signs only
            let warnings = self.domain_warnings(None, &map, peak, fill);
            Ok::<_, PyErr>((map, labels, n, seconds, warnings))
        })?;
        let timings = [("postprocess", seconds), ("total", seconds)];
        segmentation(py, labels, map, n_cells, (peak, fill), &timings, warnings)
    }

    fn __repr__(&self) -> String {
        format!(
            "Segmenter(model={:?}, variant={:?}, threads={})",
            self.info.path, self.info.variant, self.threads
        )
    }
}

impl Segmenter {
    /// With the built-in model: the signs that `gray` looks unlike its training data, given its
    /// map and the thresholds, as one sentence with the remedy (none when it looks like it);
    /// no check with another model.
    fn domain_warnings(
        &self,
        gray: Option<&GrayU8>,
        map: &MapF32,
        peak: f32,
        fill: f32,
    ) -> Vec<String> {
        if self.info.path != models::BUILTIN_NAME {
            return Vec::new();
        }
        samcell_pipeline::domain_note(gray, map, peak, fill, DOMAIN_REMEDY)
            .into_iter()
            .collect()
    }
}

impl Segmenter {
    /// The note on an image the default lite model sent to its fallback (the built-in nuclei
    /// model) because of `signs`.
    fn route_warnings(&self, signs: &[samcell_pipeline::DomainWarning]) -> Vec<String> {
        let fallback = self
            .info
            .fallback
            .as_ref()
            .map_or("the fallback model", |f| f.path.as_str());
        samcell_pipeline::route_message(signs, fallback, DOMAIN_REMEDY)
            .into_iter()
            .collect()
    }
}

/// What the out-of-domain warning suggests from Python.
const DOMAIN_REMEDY: &str = "if cells are missed or wrong, try Segmenter(model=\"generalist\")";

/// Per-cell measurements of a label image: a dict of 1-D NumPy columns, the columns of
/// ``samcell segment``'s ``<name>_cells.csv`` in its order (ready for ``pandas.DataFrame``).
///
/// ``labels``: a 2-D integer array (0 background). ``image``: the intensity image (any 2-D grey
/// array of the same shape, its own values; adds the intensity columns). ``pixel_size``: µm per
/// pixel as a number, an ``(x, y)`` pair or a string such as ``"0.65um"`` (adds the ``_um``
/// columns). Whole-number columns are int64 (``FirstClosestObjectNumber`` float64, NaN for a
/// lone cell), the others float64.
///
/// >>> import pandas as pd
/// >>> cells = pd.DataFrame(samcell_rs.measure(result.labels, image, pixel_size=0.65))
#[pyfunction]
#[pyo3(signature = (labels, image=None, pixel_size=None))]
fn measure<'py>(
    py: Python<'py>,
    labels: &Bound<'py, PyAny>,
    image: Option<&Bound<'py, PyAny>>,
    pixel_size: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let labels = label_image(labels, "labels")?;
    let raw = image.map(raw_gray).transpose()?;
    let calibration = pixel_size.map(parse_pixel_size).transpose()?;
    let table = py.detach(|| {
        let cells = samcell_measure::measure_labels(
            &labels,
            raw.as_ref().map(Intensity::Raw),
            &MeasureConfig::default(),
        )
        .map_err(measure_error)?;
        Ok::<_, PyErr>(samcell_measure::csv::cells_table(
            &cells,
            calibration.as_ref(),
        ))
    })?;
    let out = PyDict::new(py);
    for (name, column) in table {
        out.set_item(name, column_array(py, column))?;
    }
    Ok(out)
}

/// Scores a predicted label image against the ground truth as ``samcell eval`` does: Cell
/// Tracking Challenge ``seg``, ``det``, ``op_csb`` (py-ctcmetrics 1.3.3), ``aogm_d``, ``ap``
/// (one per IoU threshold of ``ap_thresholds``, 0.50 to 0.95), ``ap_mean``, ``f1_50``,
/// ``precision_50``, ``recall_50``, ``mean_matched_iou_50``, the counts behind them (``n_gt``,
/// ``n_pred``, ``det_fn``, ``det_fp``, ``merges``, ``splits``, ...) and ``warnings``. Undefined
/// scores are NaN.
///
/// >>> samcell_rs.evaluate(result.labels, ground_truth)["op_csb"]
#[pyfunction]
fn evaluate<'py>(
    py: Python<'py>,
    pred: &Bound<'py, PyAny>,
    gt: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let pred = label_image(pred, "pred")?;
    let gt = label_image(gt, "gt")?;
    let eval = py
        .detach(|| samcell_measure::evaluate_labels(&pred, &gt, "image"))
        .map_err(measure_error)?;
    let out = PyDict::new(py);
    let thresholds: Vec<f64> = samcell_measure::AP_THRESHOLDS_PERCENT
        .iter()
        .map(|&p| f64::from(p) / 100.0)
        .collect();
    out.set_item("ap_thresholds", thresholds)?;
    for part in [
        serde_json::to_value(&eval.scores),
        serde_json::to_value(&eval.counts),
    ] {
        let part = part.map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        if let serde_json::Value::Object(fields) = part {
            for (k, v) in &fields {
                out.set_item(k, json_to_py(py, v, true)?)?;
            }
        }
    }
    out.set_item("warnings", eval.warnings)?;
    Ok(out)
}

/// The result of :func:`track`.
///
/// ``masks``: uint32 (T, H, W), each cell labelled with its track id (the ``maskTTT.tif`` of
/// ``samcell track``). ``lineage``: int64 (n, 4), one row ``L B E P`` per track (track id,
/// first frame, last frame, parent; ``res_track.txt``). ``divisions``: int64 (k, 4), one row
/// ``frame, parent, daughter, daughter`` per division. ``tracks``: the ``tracks.csv`` columns,
/// ``growth``: the ``growth.csv`` columns (dicts of 1-D arrays, pandas-ready). ``time_unit``:
/// ``s``, ``min``, ``h`` or ``frames``. ``doubling``: the doubling-time fit of the growth curve
/// (``first``, ``last``, ``rate``, ``doubling``, ``r2``) or ``None``.
#[pyclass(module = "samcell_rs", frozen)]
struct Tracked {
    #[pyo3(get)]
    masks: Py<PyArray3<u32>>,
    #[pyo3(get)]
    lineage: Py<PyArray2<i64>>,
    #[pyo3(get)]
    divisions: Py<PyArray2<i64>>,
    #[pyo3(get)]
    tracks: Py<PyDict>,
    #[pyo3(get)]
    growth: Py<PyDict>,
    #[pyo3(get)]
    time_unit: &'static str,
    #[pyo3(get)]
    doubling: Option<Py<PyDict>>,
}

#[pymethods]
impl Tracked {
    /// Number of tracks.
    #[getter]
    fn n_tracks(&self, py: Python<'_>) -> usize {
        self.lineage.bind(py).shape()[0]
    }

    /// Number of divisions.
    #[getter]
    fn n_divisions(&self, py: Python<'_>) -> usize {
        self.divisions.bind(py).shape()[0]
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let shape = self.masks.bind(py).shape().to_vec();
        format!(
            "Tracked(frames={}, shape=({}, {}), n_tracks={}, n_divisions={})",
            shape[0],
            shape[1],
            shape[2],
            self.n_tracks(py),
            self.n_divisions(py)
        )
    }
}

/// What the linker gives for a sequence, before it becomes Python objects.
struct TrackOutput {
    masks: Vec<u32>,
    size: (usize, usize),
    tracking: samcell_track::Tracking,
    /// `tracks.csv`'s columns from `label` on, frame by frame, and the frame of each.
    cells: Vec<(usize, Vec<(String, Column)>)>,
    growth: Vec<GrowthRow>,
}

/// Links a time series of label images as ``samcell track --labels`` does, and returns the
/// tracked masks and the tables of its result folder (see :class:`Tracked`).
///
/// ``frames``: a sequence of 2-D integer label arrays of one size, or a 3-D (T, H, W) array
/// (any label values, 0 background). ``frame_interval``: the time between frames as
/// ``--frame-interval`` takes it (``"30min"``, ``"90s"``, ``"1.5h"``) or a number of seconds;
/// without it, time is in frames. ``images``: the grey frames (one 2-D array per frame, scaled
/// to 8 bits as the program scales a wide file), for the intensity columns of ``tracks``.
/// ``min_iou`` and ``max_gap``: the linker's ``--min-iou`` and ``--max-gap``. The GIL is
/// released while the frames are linked and measured.
///
/// >>> t = samcell_rs.track([seg.segment(f).labels for f in frames], frame_interval="10min")
/// >>> t.masks.shape, t.lineage[:3]      # (T, H, W); rows L B E P
/// >>> tracks = pd.DataFrame(t.tracks)   # one row per cell per frame
#[pyfunction]
#[pyo3(signature = (frames, frame_interval=None, images=None, min_iou=TrackConfig::default().min_iou, max_gap=TrackConfig::default().max_gap))]
fn track(
    py: Python<'_>,
    frames: &Bound<'_, PyAny>,
    frame_interval: Option<&Bound<'_, PyAny>>,
    images: Option<&Bound<'_, PyAny>>,
    min_iou: f64,
    max_gap: usize,
) -> PyResult<Tracked> {
    TrackConfig::check_min_iou(min_iou)
        .map_err(|e| PyValueError::new_err(format!("min_iou {e}")))?;
    let timeline = Timeline(frame_interval.map(parse_interval).transpose()?);
    let labels = sequence(frames, "frames")?
        .iter()
        .enumerate()
        .map(|(t, f)| label_image(f, &format!("frames[{t}]")))
        .collect::<PyResult<Vec<_>>>()?;
    let grey = match images {
        Some(images) => {
            let items = sequence(images, "images")?;
            if items.len() != labels.len() {
                return Err(PyValueError::new_err(format!(
                    "images has {} frames but frames has {} label images",
                    items.len(),
                    labels.len()
                )));
            }
            let grey = items
                .iter()
                .enumerate()
                .map(|(t, f)| {
                    let what = format!("images[{t}]");
                    to_u8(&raw_gray_named(f, &what)?, &Scaling::MinMax, &what)
                })
                .collect::<PyResult<Vec<_>>>()?;
            Some(grey)
        }
        None => None,
    };
    let config = TrackConfig {
        min_iou,
        max_gap,
        ..TrackConfig::default()
    };
    let out = py
        .detach(|| link_and_measure(config, &labels, grey.as_deref(), &timeline))
        .map_err(track_error)?;
    tracked(py, out, &timeline)
}

/// The linker over all frames, then per frame the relabelled mask and its measurements, as
/// `samcell_track::output::write_results` makes them.
fn link_and_measure(
    config: TrackConfig,
    labels: &[Labels],
    grey: Option<&[GrayU8]>,
    timeline: &Timeline,
) -> Result<TrackOutput, TrackError> {
    let mut tracker = Tracker::new(config);
    for frame in labels {
        tracker.push(frame)?;
    }
    let tracking = tracker.finish();
    let size = (labels[0].height(), labels[0].width());
    let mut masks = Vec::with_capacity(labels.len() * size.0 * size.1);
    let mut cells = Vec::with_capacity(labels.len());
    let mut growth = Vec::with_capacity(labels.len());
    for (t, frame) in labels.iter().enumerate() {
        let relabelled = tracking.relabel(t, frame)?;
        let m = samcell_measure::measure_labels(
            &relabelled,
            grey.map(|g| Intensity::U8(&g[t])),
            &MeasureConfig::default(),
        )?;
        growth.push(GrowthRow::new(t, timeline, &m, &tracking));
        cells.push((t, samcell_measure::csv::cells_table(&m, None)));
        masks.extend_from_slice(relabelled.data());
    }
    Ok(TrackOutput {
        masks,
        size,
        tracking,
        cells,
        growth,
    })
}

/// The result object: masks and tables as NumPy arrays.
fn tracked(py: Python<'_>, out: TrackOutput, timeline: &Timeline) -> PyResult<Tracked> {
    let TrackOutput {
        masks,
        size,
        tracking,
        cells,
        growth,
    } = out;
    let shape = (cells.len(), size.0, size.1);
    let masks =
        Array3::from_shape_vec(shape, masks).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let rows = |v: Vec<[i64; 4]>| {
        let n = v.len();
        to_numpy(py, n, 4, v.into_iter().flatten().collect())
    };
    let lineage = rows(
        tracking
            .tracks
            .iter()
            .map(|t| [t.id, t.start as u32, t.end as u32, t.parent].map(i64::from))
            .collect(),
    )?;
    let divisions = rows(
        tracking
            .divisions
            .iter()
            .map(|d| [d.frame as u32, d.parent, d.daughters[0], d.daughters[1]].map(i64::from))
            .collect(),
    )?;
    let time_column = format!("time_{}", timeline.unit());

    // tracks.csv: frame, time, track id (the relabelled cell's label), parent, then the rest of
    // the cells table, each column the frames' values one after the other
    let mut frame_col = Vec::new();
    let mut time_col = Vec::new();
    let mut parent_col = Vec::new();
    let mut columns: Vec<(String, Column)> = Vec::new();
    for (t, table) in cells {
        for (k, (name, column)) in table.into_iter().enumerate() {
            if k == 0 {
                let Column::Int(ids) = &column else {
                    return Err(PyRuntimeError::new_err(
                        "the label column is not whole numbers",
                    ));
                };
                for &id in ids {
                    frame_col.push(t as i64);
                    time_col.push(timeline.time(t));
                    let parent = u32::try_from(id)
                        .ok()
                        .and_then(|id| tracking.track(id))
                        .map_or(0, |tr| tr.parent);
                    parent_col.push(i64::from(parent));
                }
            }
            match columns.get_mut(k) {
                Some((_, all)) => append(all, column)?,
                None => columns.push((name, column)),
            }
        }
    }
    let tracks = PyDict::new(py);
    tracks.set_item("frame", numpy::PyArray1::from_vec(py, frame_col))?;
    tracks.set_item(&time_column, numpy::PyArray1::from_vec(py, time_col))?;
    for (k, (name, column)) in columns.into_iter().enumerate() {
        let name = if k == 0 { "track_id".to_string() } else { name };
        tracks.set_item(name, column_array(py, column))?;
        if k == 0 {
            tracks.set_item(
                "parent",
                numpy::PyArray1::from_vec(py, std::mem::take(&mut parent_col)),
            )?;
        }
    }

    let growth_dict = PyDict::new(py);
    let ints = |f: &dyn Fn(&GrowthRow) -> usize| -> Vec<i64> {
        growth.iter().map(|r| f(r) as i64).collect()
    };
    let floats = |f: &dyn Fn(&GrowthRow) -> f64| -> Vec<f64> { growth.iter().map(f).collect() };
    growth_dict.set_item("frame", numpy::PyArray1::from_vec(py, ints(&|r| r.frame)))?;
    growth_dict.set_item(
        &time_column,
        numpy::PyArray1::from_vec(py, floats(&|r| r.time)),
    )?;
    growth_dict.set_item("count", numpy::PyArray1::from_vec(py, ints(&|r| r.count)))?;
    growth_dict.set_item(
        "confluency",
        numpy::PyArray1::from_vec(py, floats(&|r| r.confluency)),
    )?;
    growth_dict.set_item(
        "mean_area_px2",
        numpy::PyArray1::from_vec(py, floats(&|r| r.mean_area)),
    )?;
    growth_dict.set_item(
        "divisions",
        numpy::PyArray1::from_vec(py, ints(&|r| r.divisions)),
    )?;

    let doubling = match samcell_track::fit_doubling(&growth) {
        Some(fit) => {
            let d = PyDict::new(py);
            d.set_item("first", fit.first)?;
            d.set_item("last", fit.last)?;
            d.set_item("rate", fit.rate)?;
            d.set_item("doubling", fit.doubling)?;
            d.set_item("r2", fit.r2)?;
            Some(d.unbind())
        }
        None => None,
    };
    Ok(Tracked {
        masks: PyArray3::from_owned_array(py, masks).unbind(),
        lineage,
        divisions,
        tracks: tracks.unbind(),
        growth: growth_dict.unbind(),
        time_unit: timeline.unit(),
        doubling,
    })
}

/// `more`'s values after `all`'s (columns of one name from successive frames).
fn append(all: &mut Column, more: Column) -> PyResult<()> {
    match (all, more) {
        (Column::Int(a), Column::Int(b)) => a.extend(b),
        (Column::Float(a), Column::Float(b)) => a.extend(b),
        (Column::OptionalInt(a), Column::OptionalInt(b)) => a.extend(b),
        _ => {
            return Err(PyRuntimeError::new_err(
                "a column changed type between frames",
            ))
        }
    }
    Ok(())
}

/// A cells-table column as a 1-D array: whole numbers int64, absent ones NaN in float64.
fn column_array(py: Python<'_>, column: Column) -> Bound<'_, PyAny> {
    match column {
        Column::Int(v) => {
            let v: Vec<i64> = v.into_iter().map(|x| x as i64).collect();
            numpy::PyArray1::from_vec(py, v).into_any()
        }
        Column::Float(v) => numpy::PyArray1::from_vec(py, v).into_any(),
        Column::OptionalInt(v) => {
            let v: Vec<f64> = v
                .into_iter()
                .map(|x| x.map_or(f64::NAN, |x| x as f64))
                .collect();
            numpy::PyArray1::from_vec(py, v).into_any()
        }
    }
}

/// The items of a sequence of 2-D arrays, or the planes of a 3-D array; an error for anything
/// else or for no items.
fn sequence<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let expected = "expected a sequence of 2-D arrays or a 3-D (T, H, W) array";
    let items: Vec<Bound<'py, PyAny>> = if let Ok(array) = obj.cast::<PyUntypedArray>() {
        let shape = array.shape().to_vec();
        if shape.len() != 3 {
            return Err(PyValueError::new_err(format!(
                "{what}: {expected}, got shape {shape:?}"
            )));
        }
        (0..shape[0])
            .map(|t| obj.get_item(t))
            .collect::<PyResult<_>>()?
    } else if obj.is_instance_of::<PyString>() || obj.is_instance_of::<pyo3::types::PyBytes>() {
        return Err(PyValueError::new_err(format!("{what}: {expected}")));
    } else {
        obj.try_iter()
            .map_err(|_| PyValueError::new_err(format!("{what}: {expected}")))?
            .collect::<PyResult<_>>()?
    };
    if items.is_empty() {
        return Err(PyValueError::new_err(format!("{what}: no frames")));
    }
    Ok(items)
}

/// `frame_interval` of `track`: a `--frame-interval` string or a number of seconds.
fn parse_interval(obj: &Bound<'_, PyAny>) -> PyResult<FrameInterval> {
    if let Ok(s) = obj.extract::<String>() {
        return FrameInterval::parse(&s)
            .map_err(|e| PyValueError::new_err(format!("frame_interval: {e}")));
    }
    match obj.extract::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 => {
            Ok(FrameInterval::from_seconds(seconds))
        }
        Ok(seconds) => Err(PyValueError::new_err(format!(
            "frame_interval: {seconds} s: the interval must be positive"
        ))),
        Err(_) => Err(PyValueError::new_err(
            "frame_interval: expected a string such as \"30min\", \"90s\", \"1.5h\" or a number \
             of seconds",
        )),
    }
}

fn track_error(e: TrackError) -> PyErr {
    let message = samcell_batch::error_chain(&e);
    match e {
        TrackError::FrameSize { .. } | TrackError::UnknownLabel { .. } => {
            PyValueError::new_err(message)
        }
        TrackError::Measure(MeasureError::Shape(_) | MeasureError::Invalid(_)) => {
            PyValueError::new_err(message)
        }
        _ => PyRuntimeError::new_err(message),
    }
}

/// samcell's Rust core: SAMCell segmentation, per-cell measurements, CTC evaluation and cell
/// tracking on NumPy arrays.
///
/// >>> import samcell_rs
/// >>> result = samcell_rs.Segmenter().segment(image)
/// >>> cells = samcell_rs.measure(result.labels, image)
#[pymodule]
fn samcell_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_PEAK", DEFAULT_PEAK)?;
    m.add("DEFAULT_FILL", DEFAULT_FILL)?;
    m.add_class::<Segmenter>()?;
    m.add_class::<Segmentation>()?;
    m.add_class::<Tracked>()?;
    m.add_function(wrap_pyfunction!(measure, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(track, m)?)?;
    Ok(())
}

/// The thresholds in force, checked as `samcell segment` checks `--peak` and `--fill`.
fn thresholds(peak: Option<f32>, fill: Option<f32>) -> PyResult<(f32, f32)> {
    let (peak, fill) = (peak.unwrap_or(DEFAULT_PEAK), fill.unwrap_or(DEFAULT_FILL));
    samcell_pipeline::check_thresholds(peak, fill)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((peak, fill))
}

/// The result object, handing the label and map buffers to NumPy.
fn segmentation(
    py: Python<'_>,
    labels: Labels,
    map: MapF32,
    n_cells: usize,
    (peak, fill): (f32, f32),
    timings: &[(&str, f64)],
    warnings: Vec<String>,
) -> PyResult<Segmentation> {
    let dict = PyDict::new(py);
    for (k, v) in timings {
        dict.set_item(*k, *v)?;
    }
    Ok(Segmentation {
        labels: to_numpy(py, labels.height(), labels.width(), labels.into_vec())?,
        distance_map: to_numpy(py, map.height(), map.width(), map.into_vec())?,
        peak,
        fill,
        n_cells,
        timings: dict.unbind(),
        warnings,
    })
}

fn stage_timings(t: &StageTimings) -> [(&'static str, f64); 5] {
    [
        ("tiling", t.tiling.as_secs_f64()),
        ("enhance", t.enhance.as_secs_f64()),
        ("predict", t.predict.as_secs_f64()),
        ("blend", t.blend.as_secs_f64()),
        ("postprocess", t.postprocess.as_secs_f64()),
    ]
}

/// A row-major buffer as an (h, w) array, without a copy.
fn to_numpy<T: numpy::Element>(
    py: Python<'_>,
    h: usize,
    w: usize,
    data: Vec<T>,
) -> PyResult<Py<PyArray2<T>>> {
    let array =
        Array2::from_shape_vec((h, w), data).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok(PyArray2::from_owned_array(py, array).unbind())
}

/// `obj` as a NumPy array (`numpy.asarray`) that is 2-D and not empty; returns it with its
/// (height, width).
fn array_2d<'py>(
    obj: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<(Bound<'py, PyUntypedArray>, usize, usize)> {
    let py = obj.py();
    let array = py.import("numpy")?.call_method1("asarray", (obj,))?;
    let array = array
        .cast_into::<PyUntypedArray>()
        .map_err(|_| PyValueError::new_err(format!("{what}: not convertible to a NumPy array")))?;
    let shape = array.shape().to_vec();
    if shape.len() != 2 {
        return Err(PyValueError::new_err(format!(
            "{what}: expected a 2-D array (height, width), got shape {shape:?}"
        )));
    }
    let (h, w) = (shape[0], shape[1]);
    if h == 0 || w == 0 {
        return Err(PyValueError::new_err(format!(
            "{what}: {}",
            PipelineError::EmptyImage {
                width: w,
                height: h
            }
        )));
    }
    Ok((array, h, w))
}

/// The array's values in row-major order, when its dtype is `T`.
fn values<T: numpy::Element + Copy>(array: &Bound<'_, PyUntypedArray>) -> Option<Vec<T>> {
    let typed = array.cast::<PyArray2<T>>().ok()?;
    let ro = numpy::PyArrayMethods::try_readonly(typed).ok()?;
    let view = ro.as_array();
    // row-major order: a Fortran-ordered array is contiguous too, but its buffer holds the
    // columns one after the other, so only a C-ordered one is copied as it lies
    Some(match view.as_slice() {
        Some(s) => s.to_vec(),
        None => view.iter().copied().collect(),
    })
}

/// A grey image array as the reader's raw grey channel: its values kept, with the sample type
/// its dtype names (what intensities are measured on, and what is scaled to 8 bits).
fn raw_gray(obj: &Bound<'_, PyAny>) -> PyResult<RawGray> {
    raw_gray_named(obj, "image")
}

/// [`raw_gray`] of the argument named `what` in its errors.
fn raw_gray_named(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<RawGray> {
    let (array, h, w) = array_2d(obj, what)?;
    let f32s = |v: Vec<f32>| RawValues::F32(v);
    let (sample, values) = if let Some(v) = values::<u8>(&array) {
        (SampleType::U8, RawValues::U8(v))
    } else if let Some(v) = values::<u16>(&array) {
        (
            SampleType::U16,
            f32s(v.into_iter().map(f32::from).collect()),
        )
    } else if let Some(v) = values::<i8>(&array) {
        (SampleType::I8, f32s(v.into_iter().map(f32::from).collect()))
    } else if let Some(v) = values::<i16>(&array) {
        (
            SampleType::I16,
            f32s(v.into_iter().map(f32::from).collect()),
        )
    } else if let Some(v) = values::<f32>(&array) {
        (SampleType::F32, f32s(v))
    } else if let Some(v) = values::<u32>(&array) {
        (SampleType::U32, wide(v, f64::from))
    } else if let Some(v) = values::<i32>(&array) {
        (SampleType::I32, wide(v, f64::from))
    } else if let Some(v) = values::<u64>(&array) {
        (SampleType::U64, wide(v, |x| x as f64))
    } else if let Some(v) = values::<i64>(&array) {
        (SampleType::I64, wide(v, |x| x as f64))
    } else if let Some(v) = values::<f64>(&array) {
        (SampleType::F64, RawValues::F64(v))
    } else {
        return Err(PyValueError::new_err(format!(
            "{what}: unsupported dtype {}; expected an unsigned or signed integer or a float \
             array",
            array.dtype()
        )));
    };
    RawGray::new(w, h, sample, values).map_err(PyRuntimeError::new_err)
}

fn wide<T>(v: Vec<T>, f: impl Fn(T) -> f64) -> RawValues {
    RawValues::F64(v.into_iter().map(f).collect())
}

/// The 8-bit image the pipeline segments: 8-bit values as they are, wider ones scaled over the
/// whole image as the readers scale them.
fn to_u8(raw: &RawGray, scaling: &Scaling, what: &str) -> PyResult<GrayU8> {
    let data = match raw.values() {
        RawValues::U8(v) => v.clone(),
        RawValues::F32(v) => {
            let v: Vec<f64> = v.iter().copied().map(f64::from).collect();
            scale(&v, scaling, what)?
        }
        RawValues::F64(v) => scale(v, scaling, what)?,
    };
    GrayU8::from_vec(raw.width(), raw.height(), data)
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

fn scale(v: &[f64], scaling: &Scaling, what: &str) -> PyResult<Vec<u8>> {
    scale_to_u8(v, scaling)
        .map(|(u, _, _)| u)
        .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

/// A float array as a distance map (other float dtypes converted to float32).
fn float_map(obj: &Bound<'_, PyAny>) -> PyResult<MapF32> {
    let (array, h, w) = array_2d(obj, "distance_map")?;
    let data = if let Some(v) = values::<f32>(&array) {
        v
    } else if let Some(v) = values::<f64>(&array) {
        v.into_iter().map(|x| x as f32).collect()
    } else {
        return Err(PyValueError::new_err(format!(
            "distance_map: expected a float array, got dtype {}",
            array.dtype()
        )));
    };
    MapF32::from_vec(w, h, data).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// An integer array as a label image (values 0..=2^32-1, 0 background).
fn label_image(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Labels> {
    let (array, h, w) = array_2d(obj, what)?;
    fn narrow<T: Copy + TryInto<u32> + std::fmt::Display>(
        v: Vec<T>,
        what: &str,
    ) -> PyResult<Vec<u32>> {
        v.into_iter()
            .map(|x| {
                x.try_into().map_err(|_| {
                    PyValueError::new_err(format!(
                        "{what}: label {x} is outside 0..=4294967295 (labels are non-negative \
                         32-bit integers)"
                    ))
                })
            })
            .collect()
    }
    let data = if let Some(v) = values::<u32>(&array) {
        v
    } else if let Some(v) = values::<u16>(&array) {
        v.into_iter().map(u32::from).collect()
    } else if let Some(v) = values::<u8>(&array) {
        v.into_iter().map(u32::from).collect()
    } else if let Some(v) = values::<i32>(&array) {
        narrow(v, what)?
    } else if let Some(v) = values::<i64>(&array) {
        narrow(v, what)?
    } else if let Some(v) = values::<u64>(&array) {
        narrow(v, what)?
    } else if let Some(v) = values::<i16>(&array) {
        narrow(v, what)?
    } else if let Some(v) = values::<i8>(&array) {
        narrow(v, what)?
    } else {
        return Err(PyValueError::new_err(format!(
            "{what}: expected an integer label array, got dtype {}",
            array.dtype()
        )));
    };
    Labels::from_vec(w, h, data).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// `pixel_size` of `measure`: a number (µm), an `(x, y)` pair or a string, read by
/// `samcell_io::parse_pixel_size` (the parser of `--pixel-size`).
fn parse_pixel_size(obj: &Bound<'_, PyAny>) -> PyResult<samcell_io::Calibration> {
    let text = if let Ok(s) = obj.extract::<String>() {
        s
    } else if let Ok(v) = obj.extract::<f64>() {
        v.to_string()
    } else if let Ok((x, y)) = obj.extract::<(f64, f64)>() {
        format!("{x}x{y}")
    } else {
        return Err(PyValueError::new_err(
            "pixel_size: expected a number (µm), an (x, y) pair or a string such as \"0.65um\"",
        ));
    };
    samcell_io::parse_pixel_size(&text)
        .map_err(|e| PyValueError::new_err(format!("pixel_size: {e}")))
}

/// A JSON value as a Python object; `null` becomes NaN where it stands for NaN (serde writes an
/// undefined score as `null`), `None` otherwise.
fn json_to_py<'py>(
    py: Python<'py>,
    v: &serde_json::Value,
    null_is_nan: bool,
) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match v {
        Value::Null if null_is_nan => PyFloat::new(py, f64::NAN).into_any(),
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_pyobject(py)?.into_any(),
            (None, Some(i)) => i.into_pyobject(py)?.into_any(),
            _ => PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let items = items
                .iter()
                .map(|x| json_to_py(py, x, null_is_nan))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(fields) => {
            let d = PyDict::new(py);
            for (k, x) in fields {
                d.set_item(k, json_to_py(py, x, null_is_nan)?)?;
            }
            d.into_any()
        }
    })
}

/// A model error as the command line words it: `ValueError` when it is about what was asked for.
fn load_error(e: LoadError) -> PyErr {
    let message = samcell_batch::error_chain(&e);
    if e.is_usage() {
        PyValueError::new_err(message)
    } else if matches!(e, LoadError::Download { .. }) {
        PyOSError::new_err(message)
    } else {
        PyRuntimeError::new_err(message)
    }
}

fn pipeline_error(e: PipelineError) -> PyErr {
    let message = samcell_batch::error_chain(&e);
    match e {
        PipelineError::EmptyImage { .. } | PipelineError::Config(_) => {
            PyValueError::new_err(message)
        }
        _ => PyRuntimeError::new_err(message),
    }
}

fn measure_error(e: MeasureError) -> PyErr {
    let message = samcell_batch::error_chain(&e);
    match e {
        MeasureError::Shape(_) | MeasureError::Invalid(_) => PyValueError::new_err(message),
        _ => PyRuntimeError::new_err(message),
    }
}
