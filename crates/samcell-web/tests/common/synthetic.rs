//! A synthetic model for the tests of the server's rules (which do not depend on the model): the
//! distance map is the crop's brightness, and a gate can hold a job in "processing".

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use samcell_imaging::{GrayU8, MapF32};
use samcell_pipeline::{
    DistanceMapPredictor, PredictError, SegmentConfig, Segmenter, TilingConfig,
};
use serde_json::Value;

use super::{job_id, upload, wait_final, TestServer};

pub const WAIT: Duration = Duration::from_secs(60);

/// A gate the predictor waits at while closed (to hold a job in "processing").
#[derive(Default)]
pub struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
}

impl Gate {
    pub fn set(&self, open: bool) {
        *self.open.lock().expect("gate") = open;
        self.cv.notify_all();
    }
}

/// Distance map = brightness / 255, so the bright disks of [`cells_png`] become cells.
pub struct Brightness {
    pub calls: AtomicUsize,
    pub gate: Arc<Gate>,
}

impl DistanceMapPredictor for Brightness {
    fn describe(&self) -> String {
        "synthetic (brightness)".into()
    }

    fn tiling(&self) -> TilingConfig {
        TilingConfig::default()
    }

    fn predict(&self, crops: &[GrayU8]) -> Result<Vec<MapF32>, PredictError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut open = self.gate.open.lock().expect("gate");
        while !*open {
            open = self.gate.cv.wait(open).expect("gate");
        }
        drop(open);
        Ok(crops
            .iter()
            .map(|c| {
                let v = c.data().iter().map(|&p| p as f32 / 255.0).collect();
                MapF32::from_vec(c.width(), c.height(), v).expect("map")
            })
            .collect())
    }
}

/// A segmenter over [`Brightness`] and its gate (open unless `closed`).
pub fn synthetic(closed: bool) -> (Arc<Segmenter>, Arc<Brightness>) {
    let gate = Arc::new(Gate::default());
    gate.set(!closed);
    let p = Arc::new(Brightness {
        calls: AtomicUsize::new(0),
        gate,
    });
    let seg = Segmenter::new(p.clone(), SegmentConfig::default());
    (Arc::new(seg), p)
}

pub async fn server(
    closed: bool,
    tweak: impl FnOnce(&mut samcell_web::ServeConfig),
) -> (TestServer, Arc<Brightness>) {
    server_in(tempfile::tempdir().expect("tempdir"), closed, tweak).await
}

pub async fn server_in(
    work: tempfile::TempDir,
    closed: bool,
    tweak: impl FnOnce(&mut samcell_web::ServeConfig),
) -> (TestServer, Arc<Brightness>) {
    let (seg, p) = synthetic(closed);
    let srv = TestServer::start_with(seg, work, |c| {
        c.peak = 0.5;
        c.fill = 0.2;
        tweak(c);
    })
    .await;
    (srv, p)
}

/// A 60x60 grey image with four bright disks, as pixels.
pub fn cells_pixels() -> Vec<u8> {
    let mut px = vec![10u8; 60 * 60];
    for (cx, cy) in [(15, 15), (45, 15), (15, 45), (45, 45)] {
        for y in 0..60i32 {
            for x in 0..60i32 {
                let d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
                if d2 < 64 {
                    px[(y * 60 + x) as usize] = (250 - 2 * d2) as u8;
                }
            }
        }
    }
    px
}

/// A baseline little-endian TIFF with one 8-bit grey 60x60 page per entry of `pages`
/// (uncompressed, one strip per page); `description` (e.g. ImageJ's) goes on the first page.
pub fn multipage_tiff(pages: &[Vec<u8>], description: Option<&str>) -> Vec<u8> {
    let (w, h) = (60u32, 60u32);
    let mut out = b"II*\0\0\0\0\0".to_vec();
    let mut link = 4usize; // where the offset of the next IFD goes
    for (k, px) in pages.iter().enumerate() {
        let data = out.len() as u32;
        out.extend_from_slice(px);
        // the description text (NUL-terminated), referenced by offset
        let text = description.filter(|_| k == 0).map(|d| {
            let at = out.len() as u32;
            out.extend_from_slice(d.as_bytes());
            out.push(0);
            (at, d.len() as u32 + 1)
        });
        if out.len() % 2 == 1 {
            out.push(0);
        }
        let ifd = out.len() as u32;
        out[link..link + 4].copy_from_slice(&ifd.to_le_bytes());
        // (tag, type, count, value): type 2 = ASCII, 3 = SHORT, 4 = LONG; sorted by tag
        let mut entries: Vec<(u16, u16, u32, u32)> = vec![
            (256, 4, 1, w),
            (257, 4, 1, h),
            (258, 3, 1, 8),
            (259, 3, 1, 1),
            (262, 3, 1, 1),
        ];
        if let Some((at, n)) = text {
            entries.push((270, 2, n, at));
        }
        entries.extend([
            (273, 4, 1, data),
            (277, 3, 1, 1),
            (278, 4, 1, h),
            (279, 4, 1, w * h),
        ]);
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, ty, count, v) in entries {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            if ty == 3 {
                out.extend_from_slice(&(v as u16).to_le_bytes());
                out.extend_from_slice(&[0, 0]);
            } else {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        link = out.len();
        out.extend_from_slice(&[0, 0, 0, 0]);
    }
    out
}

/// [`cells_pixels`] as PNG bytes.
pub fn cells_png() -> Vec<u8> {
    let img = image::GrayImage::from_raw(60, 60, cells_pixels()).expect("image");
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("PNG");
    out.into_inner()
}

/// Uploads [`cells_png`] into `batch` and waits until it is done.
pub async fn uploaded_done(c: &reqwest::Client, srv: &TestServer, batch: &str) -> Value {
    let (st, body) = upload(
        c,
        &srv.url(&format!("/api/jobs?batch={batch}")),
        &[("cells.png".into(), cells_png())],
    )
    .await;
    assert_eq!(st, 202, "{body}");
    let (_, j) = wait_final(c, &srv.url(""), &job_id(&body, 0), WAIT).await;
    assert_eq!(j["state"], "done", "{j}");
    j
}
