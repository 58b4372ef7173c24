//! The README's GUI screenshot (`docs/gui.png`): the built-in samcell-lite model on real
//! phase-contrast images (Usiigaci `set10`, `set15` and `set20`, images the model was validated
//! on, never trained on), in real headless Chromium, with the first image's masks in the viewer.
//!
//! Not part of the normal run (it rewrites a committed file); regenerate with
//! `cargo test -p samcell-web --test readme_screenshot -- --ignored`.
//! Needs Chromium (`SAMCELL_CHROMIUM` overrides the executable), the Usiigaci set
//! (`SAMCELL_DATA`) and a build with the built-in model.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::cdp::Browser;
use common::*;
use samcell_lite::{LiteModel, LitePredictor};
use samcell_pipeline::{SegmentConfig, Segmenter};

/// The validation images shown.
const IMAGES: [&str; 3] = ["set10.tif", "set15.tif", "set20.tif"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "rewrites docs/gui.png; run with --ignored"]
async fn readme_gui_screenshot() {
    common::cdp::chromium_path();
    let Some(set) = samcell_testdata::require_data(USIIGACI) else {
        return;
    };
    let model = LiteModel::builtin().expect("this build has the built-in samcell-lite model");
    let seg = Arc::new(Segmenter::new(
        Arc::new(LitePredictor::new(model, 4)),
        SegmentConfig::default(),
    ));
    let srv = TestServer::start_with(seg, tempfile::tempdir().expect("tempdir"), |cfg| {
        let defaults = samcell_web::ServeConfig::default();
        cfg.peak = defaults.peak;
        cfg.fill = defaults.fill;
    })
    .await;
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    page.goto(&srv.url("/")).await;
    page.wait_for(
        "document.getElementById('server-info').textContent.startsWith('Model:')",
        Duration::from_secs(20),
        "the page to load the server info",
    )
    .await;
    let files: Vec<PathBuf> = IMAGES
        .iter()
        .map(|n| set.join("train/images").join(n))
        .collect();
    page.drop_files(&files, 720.0, 420.0).await;
    page.wait_for(
        "Array.from(document.querySelectorAll('#job-list .job')).filter(e => e.dataset.state === 'done').length === 3",
        Duration::from_secs(300),
        "all three images to be done",
    )
    .await;
    page.wait_for(
        "document.getElementById('viewer-message').hidden",
        Duration::from_secs(10),
        "the viewer to show the image",
    )
    .await;
    // let the overlay image finish drawing
    tokio::time::sleep(Duration::from_secs(1)).await;
    let out = workspace_root().join("docs/gui.png");
    page.screenshot(&out, false).await;
    browser.close().await;
    srv.stop().await;
    assert!(png_size(&std::fs::read(&out).expect("screenshot")).0 > 0);
}
