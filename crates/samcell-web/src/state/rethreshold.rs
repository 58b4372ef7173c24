//! Re-thresholding a finished job: its post-processing inputs (the grey image, the upload's own
//! values and pixel size, the stored distance map; the jobs re-thresholded last are kept in a
//! small cache, as a slider drag hits the same job many times) and the rewrite of its
//! threshold-dependent outputs and of its out-of-domain note (`Job::domain_warning`, whose
//! unsure-map sign depends on the thresholds). The pixel size is chosen again by the rule of
//! processing, so a server restarted with another `--pixel-size` rewrites the files and the
//! record with it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use samcell_imaging::{GrayU8, MapF32};
use samcell_io::{Calibration, RawGray};

use super::{find_input, lock, read_options, Shared};
use crate::job::{files, JobState};
use crate::outputs;
use crate::{Job, WebError};

/// What the threshold-dependent outputs of a finished job are made from.
pub(crate) struct Inputs {
    /// The 8-bit grey image the model saw (`gray.png`): drawn under the overlay.
    pub gray: GrayU8,
    /// The uploaded image's own values (the job's page of `input.*`): measured in `cells.csv`.
    pub raw: RawGray,
    /// The stored distance map (`distmap.tif`).
    pub map: MapF32,
    /// The uploaded file's own pixel size (the server's `--pixel-size` goes first).
    pub file_calibration: Option<Calibration>,
}

const CACHE_LEN: usize = 4;

impl Shared {
    /// The inputs of a finished job's post-processing, from the small cache or from disk: the
    /// grey image, the uploaded file's own values (page `page` of `input`, read again as at
    /// processing) and the distance map.
    pub fn inputs_of(&self, id: &str, input: &Path, page: usize) -> Result<Arc<Inputs>, WebError> {
        if let Some((_, i)) = lock(&self.cache).iter().find(|(k, _)| k == id) {
            return Ok(i.clone());
        }
        let dir = self.dir(id);
        let gray = samcell_io::read_gray(&dir.join(files::GRAY), &Default::default())
            .map_err(|e| WebError::Io(e.full_message()))?;
        let map = samcell_io::read_f32_tiff(&dir.join(files::DISTMAP_TIFF))
            .map_err(|e| WebError::Io(e.full_message()))?;
        let (_, raw, info) =
            samcell_io::read_gray_raw(input, &read_options(page)).map_err(|e| {
                WebError::Io(format!(
                    "cannot read the uploaded image again to measure its intensities: {}",
                    e.full_message()
                ))
            })?;
        let size = |w: usize, h: usize| format!("{w}x{h}");
        let sizes = [
            size(gray.width(), gray.height()),
            size(raw.width(), raw.height()),
            size(map.width(), map.height()),
        ];
        if sizes.iter().any(|s| *s != sizes[0]) {
            return Err(WebError::Processing(format!(
                "the job's files do not match: {} is {}, the uploaded image {}, {} {}",
                files::GRAY,
                sizes[0],
                sizes[1],
                files::DISTMAP_TIFF,
                sizes[2]
            )));
        }
        let inputs = Arc::new(Inputs {
            gray,
            raw,
            map,
            file_calibration: info.calibration,
        });
        let mut c = lock(&self.cache);
        c.insert(0, (id.to_string(), inputs.clone()));
        c.truncate(CACHE_LEN);
        Ok(inputs)
    }

    /// Re-runs post-processing of a done job at new thresholds (blocking).
    pub fn rethreshold(&self, id: &str, peak: f32, fill: f32) -> Result<Job, (u16, String)> {
        let j = self.get(id).ok_or((404, format!("no job {id}")))?;
        if j.state != JobState::Done {
            return Err((
                409,
                format!(
                    "{} is {:?}, not done: nothing to re-threshold yet",
                    j.name, j.state
                ),
            ));
        }
        let dir = self.dir(id);
        for f in [files::GRAY, files::DISTMAP_TIFF] {
            if !dir.join(f).is_file() {
                return Err(self.result_missing(id, f));
            }
        }
        let Some(input) = find_input(&dir) else {
            return Err(self.result_missing(id, files::INPUT));
        };
        let inputs = self
            .inputs_of(id, &input, j.page)
            .map_err(|e| (500, e.to_string()))?;
        let post = self.post(peak, fill, inputs.file_calibration);
        let r = outputs::write_threshold_outputs(
            &dir,
            &j.stem(),
            &inputs.gray,
            &inputs.raw,
            &inputs.map,
            post,
        )
        .map_err(|e| (500, e.to_string()))?;
        let domain_warning = if j.routed || j.forced_model.is_some() {
            j.domain_warning.clone()
        } else {
            self.domain_warning(&inputs.gray, &inputs.map, peak, fill)
        };
        self.update(id, |j| {
            j.set_calibration(post.pixel_size.as_ref());
            j.peak = peak;
            j.fill = fill;
            j.revision += 1;
            j.metrics = Some(r.metrics);
            j.domain_warning = domain_warning;
            if let Some(t) = &mut j.timings_ms {
                t.stages.postprocess = Duration::from_millis(r.postprocess_ms);
                t.write = Duration::from_millis(r.outputs_ms);
                t.total = t.read + t.model() + t.stages.postprocess + t.write;
            }
        })
        .ok_or((404, format!("job {id} was removed")))
        .inspect(|j| self.series.touched(&j.batch))
    }
}
