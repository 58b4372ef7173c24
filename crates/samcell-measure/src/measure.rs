//! Per-cell measurements of a label image (0 = background, any other value = one cell; values
//! need not be consecutive), optionally with an intensity image of the same size.
//!
//! # Definitions (reference behaviour)
//! Shape features are CellProfiler 4 `MeasureObjectSizeShape` names with the scikit-image 0.25.2
//! `skimage.measure.regionprops` definitions CellProfiler computes them with (`regionprops(labels)`,
//! default `spacing=1`), all in pixels:
//! - `Area`: pixel count (`area`). `Perimeter`: `perimeter` (= `skimage.measure.perimeter(image,
//!   neighborhood=4)`: boundary pixels under 4-connectivity, weighted 1, sqrt(2) or (1+sqrt(2))/2 by
//!   the configuration of their boundary neighbours). `ConvexArea`: `area_convex` (see
//!   `convex_hull_image`: pixel centres inside or on the hull of the pixels' edge midpoints).
//!   `Solidity` = Area / ConvexArea, `Extent` = Area / bounding-box area.
//! - `Eccentricity`, `MajorAxisLength`, `MinorAxisLength`, `Orientation`: from the eigenvalues
//!   l1 >= l2 of the inertia tensor (covariance of the pixel coordinates, divided by the area):
//!   `4 sqrt(l1)`, `4 sqrt(l2)`, `sqrt(1 - l2/l1)`, and `orientation` = `0.5 atan2(2 cov_xy,
//!   var_y - var_x)` (the angle between the image's row axis and the major axis) reported, as
//!   CellProfiler does, in degrees (`orientation * 180 / pi`). Moments are exact integer sums.
//! - `EquivalentDiameter` = sqrt(4 Area / pi). `FormFactor` = 4 pi Area / Perimeter^2,
//!   `Compactness` = Perimeter^2 / (4 pi Area) (CellProfiler's definitions; one is the inverse of
//!   the other).
//! - `Center_X/Y`: centroid (`centroid-1`, `centroid-0`). `BoundingBoxMinimum_X/Y` and
//!   `BoundingBoxMaximum_X/Y`: skimage `bbox`, i.e. the maximum is *exclusive* (last pixel + 1), as
//!   in CellProfiler.
//! - `MaxFeretDiameter`: skimage `feret_diameter_max` (contour of the convex image at level 0.5).
//!   `MinFeretDiameter`: smallest caliper width of that same contour (skimage has none; CellProfiler's
//!   centrosome version measures pixel centres and so differs by about one pixel).
//!
//! Undefined values are NaN, never 0: `Eccentricity` of a one-pixel cell (skimage returns 0),
//! `Orientation` of an isotropic cell (equal variances and no covariance; skimage returns -45
//! degrees), `FormFactor` when the perimeter is 0 (cells of one or two pixels),
//! `FirstClosestDistance` when the image has a single cell, intensity statistics without an image.
//!
//! Intensity (CellProfiler `MeasureObjectIntensity` names, scikit-image `regionprops`
//! `intensity_mean`, `intensity_std`, `intensity_min`, `intensity_max` definitions):
//! `MeanIntensity`, `StdIntensity` (population standard deviation, numpy `std` with `ddof=0`),
//! `MinIntensity`, `MaxIntensity` and `IntegratedIntensity` (the sum over the cell's pixels).
//! [`IntensityStats`] holds them in the intensity image's own units (the stored sample values;
//! with [`Intensity::Raw`], the file's values before any scaling to 8 bits).
//! [`Measurements::intensity_full_scale`] is CellProfiler's bit-depth divisor: CellProfiler loads
//! images as 0..1 floats (skimage `img_as_float`: u8 / 255, u16 / 65535, floats as they are), and
//! the CSV writes both (see [`crate::csv`]). Values are accumulated in f64 (Chan et al. merge of
//! per-run mean and squared deviations), so the statistics stay exact-to-rounding at any offset.
//!
//! Neighbours (CellProfiler `MeasureObjectNeighbors`, objects = neighbours):
//! - `NumberOfNeighbors_Adjacent`: method "Adjacent": other cells that overlap the cell dilated by
//!   `strel_disk(1)` (the 4-neighbourhood), i.e. cells with a pixel 4-adjacent to one of its pixels.
//! - `NumberOfNeighbors_<N>`: method "Within a specified distance" N (default 5): other cells with a
//!   pixel within Euclidean distance N of one of its pixels (dilation by `strel_disk(N)`, the
//!   offsets with dx^2 + dy^2 <= N^2).
//! - `PercentTouching` (for the Adjacent method): 100 x (outline pixels within `strel_disk(1.5)`, the
//!   8-neighbourhood, of another cell) / (outline pixels), the outline being centrosome's `outline`:
//!   pixels of the cell with an 8-neighbour of another value, plus the cell's pixels on the image
//!   border. 0 for a cell without neighbours.
//! - `FirstClosestObjectNumber`, `FirstClosestDistance`: the other cell with the nearest centroid and
//!   the centroid distance (ties: the smaller label).
//!
//! Per image ([`ImageSummary`]): cell count, mean and median area (NaN without cells), confluency
//! = foreground pixels / image pixels, mean `NumberOfNeighbors_Adjacent` and mean
//! `NumberOfNeighbors_<N>` (NaN without cells).

use crate::shape;
use crate::MeasureError;
use samcell_imaging::{GrayU8, Labels, MapF32};
use samcell_io::RawGray;
use serde::Serialize;

/// Settings of [`measure_labels`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MeasureConfig {
    /// Distance (px) of `NumberOfNeighbors_<N>`; CellProfiler's default is 5. At most 100.
    pub neighbor_distance: u32,
}

impl Default for MeasureConfig {
    fn default() -> Self {
        Self {
            neighbor_distance: 5,
        }
    }
}

/// The intensity image measured under the cells.
#[derive(Clone, Copy, Debug)]
pub enum Intensity<'a> {
    /// 8-bit values (full scale 255).
    U8(&'a GrayU8),
    /// Float values, used as they are (full scale 1).
    F32(&'a MapF32),
    /// A file's grey values before scaling (`samcell_io::read_gray_raw`), with the full scale of
    /// its sample type.
    Raw(&'a RawGray),
}

impl Intensity<'_> {
    pub(crate) fn size(&self) -> (usize, usize) {
        match self {
            Intensity::U8(i) => (i.width(), i.height()),
            Intensity::F32(i) => (i.width(), i.height()),
            Intensity::Raw(i) => (i.width(), i.height()),
        }
    }

    /// The value that CellProfiler's 0..1 convention maps to 1 (see the module docs).
    pub fn full_scale(&self) -> f64 {
        match self {
            Intensity::U8(_) => 255.0,
            Intensity::F32(_) => 1.0,
            Intensity::Raw(r) => r.full_scale().unwrap_or(1.0),
        }
    }
}

/// Intensity statistics of one cell, in the intensity image's own units (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct IntensityStats {
    /// Mean over the cell's pixels (`MeanIntensity`).
    pub mean: f64,
    /// Population standard deviation (ddof 0).
    pub std: f64,
    /// Smallest pixel value of the cell (`MinIntensity`).
    pub min: f64,
    /// Largest pixel value of the cell (`MaxIntensity`).
    pub max: f64,
    /// Sum over the cell's pixels (CellProfiler `IntegratedIntensity`).
    pub integrated: f64,
}

impl IntensityStats {
    /// The statistics divided by `full_scale` (CellProfiler's 0..1 values for a full scale of
    /// [`Measurements::intensity_full_scale`]).
    pub fn scaled(&self, full_scale: f64) -> IntensityStats {
        IntensityStats {
            mean: self.mean / full_scale,
            std: self.std / full_scale,
            min: self.min / full_scale,
            max: self.max / full_scale,
            integrated: self.integrated / full_scale,
        }
    }
}

/// Measurements of one cell; see the module docs for the definitions. Lengths in px, areas in px^2.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CellMeasurement {
    /// The cell's value in the label image (CellProfiler's `ObjectNumber` column).
    pub label: u32,
    /// Pixel count (`Area`).
    pub area: u64,
    /// skimage 4-connectivity perimeter (`Perimeter`), px.
    pub perimeter: f64,
    /// Pixels of the convex hull image (`ConvexArea`).
    pub convex_area: u64,
    /// `area / convex_area`, 0..=1 (`Solidity`).
    pub solidity: f64,
    /// `area` / bounding-box area, 0..=1 (`Extent`).
    pub extent: f64,
    /// 0 (circle) to 1 (line) from the inertia tensor (`Eccentricity`); NaN for a one-pixel cell.
    pub eccentricity: f64,
    /// `4 sqrt(l1)` of the inertia tensor's larger eigenvalue, px (`MajorAxisLength`).
    pub major_axis_length: f64,
    /// `4 sqrt(l2)` of the inertia tensor's smaller eigenvalue, px (`MinorAxisLength`).
    pub minor_axis_length: f64,
    /// Degrees, -90..=90.
    pub orientation: f64,
    /// Diameter of the circle with the same area, `sqrt(4 area / pi)`, px (`EquivalentDiameter`).
    pub equivalent_diameter: f64,
    /// `4 pi area / perimeter^2` (`FormFactor`, 1 for a disc); NaN when the perimeter is 0.
    pub form_factor: f64,
    /// `perimeter^2 / (4 pi area)` (`Compactness`), the inverse of `form_factor`; 0 when the
    /// perimeter is 0.
    pub compactness: f64,
    /// Centroid column, px from the left edge (`Center_X`).
    pub center_x: f64,
    /// Centroid row, px from the top edge (`Center_Y`).
    pub center_y: f64,
    /// Leftmost column of the cell (`BoundingBoxMinimum_X`).
    pub bbox_min_x: u32,
    /// Exclusive.
    pub bbox_max_x: u32,
    /// Topmost row of the cell (`BoundingBoxMinimum_Y`).
    pub bbox_min_y: u32,
    /// Exclusive.
    pub bbox_max_y: u32,
    /// Smallest caliper width of the convex image's contour, px (`MinFeretDiameter`).
    pub min_feret: f64,
    /// Largest distance between two points of that contour, px (`MaxFeretDiameter`).
    pub max_feret: f64,
    /// Statistics of the intensity image under the cell; `None` without an intensity image.
    pub intensity: Option<IntensityStats>,
    /// Other cells 4-adjacent to the cell (`NumberOfNeighbors_Adjacent`).
    pub neighbors_adjacent: u32,
    /// Cells within [`MeasureConfig::neighbor_distance`].
    pub neighbors_within: u32,
    /// Percentage, 0..=100, of the cell's outline pixels that touch another cell
    /// (`PercentTouching`); 0 without neighbours.
    pub percent_touching: f64,
    /// Label of the cell with the nearest centroid (None with a single cell).
    pub first_closest_label: Option<u32>,
    /// Distance between the two centroids, px (`FirstClosestDistance`); NaN with a single cell.
    pub first_closest_distance: f64,
}

/// All cells of one label image, in ascending label order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measurements {
    /// Width of the label image, px.
    pub width: usize,
    /// Height of the label image, px.
    pub height: usize,
    /// The [`MeasureConfig::neighbor_distance`] the cells were measured with, px.
    pub neighbor_distance: u32,
    /// True when an intensity image was measured (every cell's `intensity` is then `Some`).
    pub has_intensity: bool,
    /// The intensity value that CellProfiler's 0..1 convention maps to 1: 255 for 8-bit, 65535
    /// for 16-bit data, 1 for floats (and without an intensity image).
    pub intensity_full_scale: f64,
    /// One entry per cell, in ascending label order.
    pub cells: Vec<CellMeasurement>,
}

/// One row of `summary.csv`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImageSummary {
    /// The image's name, e.g. the input's file stem.
    pub image: String,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Number of cells.
    pub cell_count: usize,
    /// Mean cell area, px^2; NaN without cells.
    pub mean_area: f64,
    /// Median cell area, px^2 (mean of the two middle ones for an even count); NaN without cells.
    pub median_area: f64,
    /// Foreground pixels / image pixels.
    pub confluency: f64,
    /// Mean of the cells' `NumberOfNeighbors_Adjacent`; NaN without cells.
    pub mean_neighbors_adjacent: f64,
    /// Mean of the cells' `NumberOfNeighbors_<N>`; NaN without cells.
    pub mean_neighbors_within: f64,
    /// The N of `mean_neighbors_within`, px.
    pub neighbor_distance: u32,
    /// Cells per mm² of image when the pixel size is known ([`ImageSummary::with_pixel_size`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cells_per_mm2: Option<f64>,
}

impl ImageSummary {
    /// Sets [`ImageSummary::cells_per_mm2`] from the pixel size (`None` clears it): cells
    /// divided by the image area, width * x µm by height * y µm.
    pub fn with_pixel_size(mut self, pixel_size: Option<&samcell_io::Calibration>) -> Self {
        self.cells_per_mm2 = pixel_size.map(|p| {
            let mm2 = self.width as f64 * p.x_um * self.height as f64 * p.y_um * 1e-6;
            self.cell_count as f64 / mm2
        });
        self
    }
}

impl Measurements {
    /// The per-image summary, named `image` (e.g. the input's stem).
    pub fn summary(&self, image: &str) -> ImageSummary {
        let n = self.cells.len();
        let mut areas: Vec<u64> = self.cells.iter().map(|c| c.area).collect();
        areas.sort_unstable();
        let total: u64 = areas.iter().sum();
        let (mean_area, median_area) = if n == 0 {
            (f64::NAN, f64::NAN)
        } else {
            let med = if n % 2 == 1 {
                areas[n / 2] as f64
            } else {
                (areas[n / 2 - 1] + areas[n / 2]) as f64 / 2.0
            };
            (total as f64 / n as f64, med)
        };
        let mean_of = |f: fn(&CellMeasurement) -> u32| {
            if n == 0 {
                f64::NAN
            } else {
                self.cells.iter().map(|c| u64::from(f(c))).sum::<u64>() as f64 / n as f64
            }
        };
        let pixels = (self.width * self.height) as f64;
        ImageSummary {
            image: image.to_string(),
            width: self.width,
            height: self.height,
            cell_count: n,
            mean_area,
            median_area,
            confluency: if pixels > 0.0 {
                total as f64 / pixels
            } else {
                f64::NAN
            },
            mean_neighbors_adjacent: mean_of(|c| c.neighbors_adjacent),
            mean_neighbors_within: mean_of(|c| c.neighbors_within),
            neighbor_distance: self.neighbor_distance,
            cells_per_mm2: None,
        }
    }
}

/// Measures every cell of `labels` (and the intensity under it when `intensity` is given).
///
/// Errors: an intensity image of another size, `neighbor_distance` above 100, images of more than
/// 2^32 pixels.
pub fn measure_labels(
    labels: &Labels,
    intensity: Option<Intensity<'_>>,
    config: &MeasureConfig,
) -> Result<Measurements, MeasureError> {
    if config.neighbor_distance > 100 {
        return Err(MeasureError::Invalid(format!(
            "neighbour distance {} px is above the supported 100 px",
            config.neighbor_distance
        )));
    }
    if (labels.width() as u64) * (labels.height() as u64) > u64::from(u32::MAX) {
        return Err(MeasureError::Invalid(format!(
            "label image {}x{} has more than 2^32 pixels, which this measurement does not support",
            labels.width(),
            labels.height()
        )));
    }
    if let Some(i) = &intensity {
        let (w, h) = i.size();
        if (w, h) != (labels.width(), labels.height()) {
            return Err(MeasureError::Shape(format!(
                "intensity image is {w}x{h} but the label image is {}x{}",
                labels.width(),
                labels.height()
            )));
        }
    }
    let cells = shape::measure_all(labels, intensity, config.neighbor_distance);
    Ok(Measurements {
        width: labels.width(),
        height: labels.height(),
        neighbor_distance: config.neighbor_distance,
        has_intensity: intensity.is_some(),
        intensity_full_scale: intensity.map_or(1.0, |i| i.full_scale()),
        cells,
    })
}
