//! `samcell_rs`: samcell's Rust core for Python, on NumPy arrays.
//!
//! Everything here is glue: arrays in and out, errors as Python exceptions, the GIL released
//! while the work runs. The work itself is the workspace's: model resolution, cache and download
//! (`samcell_batch::models`, the rules of `samcell segment --model`), the thread settings
//! (`samcell_batch::threads`), the scaling of wide samples to 8 bits
//! (`samcell_io::read::gray::scale_to_u8`), the pipeline (`samcell_pipeline`), the `_cells.csv`
//! table (`samcell_measure::csv::cells_table`) and the CTC/AP evaluation
//! (`samcell_measure::evaluate_labels`).
//!
//! Arrays: inputs are read once into the Rust types (a copy that also makes them safe to use
//! while other Python threads run); outputs hand their Rust buffers to NumPy without a copy.
//! Errors: `ValueError` for bad input (shapes, dtypes, thresholds, an unknown model name or a
//! missing model file), `OSError` for a failed download, `RuntimeError` for the rest, each with
//! the message the command line prints.

// pyo3's macros expand to unsafe FFI code, so `unsafe_code` can only be denied, not forbidden
// (the generated code allows it locally); this crate writes no unsafe block of its own.
#![deny(unsafe_code)]

use numpy::ndarray::Array2;
use numpy::{PyArray2, PyUntypedArray, PyUntypedArrayMethods};
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
use std::sync::Arc;
use std::time::Instant;

/// A segmentation model, loaded once, with samcell's pipeline around it.
///
/// ``model``: ``None`` (the built-in samcell-lite model, as ``samcell segment`` without
/// ``--model``), ``"lite"``, ``"lite:PATH"``, a published SAMCell name (``"generalist"``,
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
/// ``predict``, ``blend``, ``postprocess``, ``total``).
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
            segmenter: samcell_pipeline::Segmenter::new(loaded.predictor, config),
            info: loaded.info,
            threads,
        })
    }

    /// The model's identity: ``path``, ``name``, ``url``, ``sha256``, ``variant``, ``format``,
    /// ``predictor`` (as ``run.json`` records it).
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
    /// post-processing thresholds (defaults 0.47 and 0.09). The GIL is released meanwhile.
    ///
    /// >>> result = seg.segment(image, percentile=(1, 99))
    /// >>> result.n_cells, result.timings["predict"]
    #[pyo3(signature = (image, percentile=None, peak=None, fill=None))]
    fn segment(
        &self,
        py: Python<'_>,
        image: &Bound<'_, PyAny>,
        percentile: Option<(f64, f64)>,
        peak: Option<f32>,
        fill: Option<f32>,
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
        let raw = raw_gray(image)?;
        let segmenter = samcell_pipeline::Segmenter::new(
            Arc::clone(self.segmenter.predictor()),
            SegmentConfig {
                peak,
                fill,
                ..*self.segmenter.config()
            },
        );
        let (seg, scale_time) = py.detach(|| {
            let t = Instant::now();
            let gray = to_u8(&raw, &scaling)?;
            let scale_time = t.elapsed().as_secs_f64();
            segmenter
                .segment(&gray)
                .map(|seg| (seg, scale_time))
                .map_err(pipeline_error)
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
            peak,
            fill,
            &timings,
        )
    }

    /// Reruns only the post-processing on a distance map (float32 (H, W), e.g. a previous
    /// result's ``distance_map``): seeds where ``map > peak``, cells grown where ``map > fill``.
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
        let (map, labels, n_cells, seconds) = py.detach(|| {
            let t = Instant::now();
            samcell_pipeline::labels_from_distance_map(&map, peak, fill)
                .map(|(labels, n)| (map, labels, n, t.elapsed().as_secs_f64()))
                .map_err(pipeline_error)
        })?;
        let timings = [("postprocess", seconds), ("total", seconds)];
        segmentation(py, labels, map, n_cells, peak, fill, &timings)
    }

    fn __repr__(&self) -> String {
        format!(
            "Segmenter(model={:?}, variant={:?}, threads={})",
            self.info.path, self.info.variant, self.threads
        )
    }
}

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
        let array = match column {
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
        };
        out.set_item(name, array)?;
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

/// samcell's Rust core: SAMCell segmentation, per-cell measurements and CTC evaluation on
/// NumPy arrays.
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
    m.add_function(wrap_pyfunction!(measure, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
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
    peak: f32,
    fill: f32,
    timings: &[(&str, f64)],
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
    Some(match ro.as_slice() {
        Ok(s) => s.to_vec(),
        Err(_) => ro.as_array().iter().copied().collect(),
    })
}

/// A grey image array as the reader's raw grey channel: its values kept, with the sample type
/// its dtype names (what intensities are measured on, and what is scaled to 8 bits).
fn raw_gray(obj: &Bound<'_, PyAny>) -> PyResult<RawGray> {
    let (array, h, w) = array_2d(obj, "image")?;
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
            "image: unsupported dtype {}; expected an unsigned or signed integer or a float \
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
fn to_u8(raw: &RawGray, scaling: &Scaling) -> PyResult<GrayU8> {
    let data = match raw.values() {
        RawValues::U8(v) => v.clone(),
        RawValues::F32(v) => {
            let v: Vec<f64> = v.iter().copied().map(f64::from).collect();
            scale(&v, scaling)?
        }
        RawValues::F64(v) => scale(v, scaling)?,
    };
    GrayU8::from_vec(raw.width(), raw.height(), data)
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

fn scale(v: &[f64], scaling: &Scaling) -> PyResult<Vec<u8>> {
    scale_to_u8(v, scaling)
        .map(|(u, _, _)| u)
        .map_err(|e| PyValueError::new_err(format!("image: {e}")))
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
