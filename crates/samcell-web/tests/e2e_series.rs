//! The time-series mode in real headless Chromium (as `e2e_browser`: Debian's `chromium`,
//! `SAMCELL_CHROMIUM` overrides it; a missing browser fails the test). The server runs the
//! synthetic brightness model on the synthetic time-lapse of `common::timelapse` (no shared
//! materials needed).
//!
//! Through the page the test switches "Time series" on, picks the natural name order and a
//! 30 min frame interval, drops the five frames in an order that is not the time order, waits
//! for the growth curve (one point per frame, the doubling-time fit window and its caption),
//! then steps through the frames with the next button and the slider and reads the shown
//! overlay's pixels: the moving cell has the same colour in every frame (its track's), which
//! differs from its neighbour's. A screenshot goes to `$SAMCELL_E2E_ARTIFACTS` (default
//! `<workspace>/target/e2e-artifacts`) as `series.png`.

mod common;

use std::time::Duration;

use common::cdp::Browser;
use common::synthetic::server;
use common::timelapse::{name, write_frames};
use common::*;
use serde_json::Value;

/// The RGB of pixel (x, y) of the frame the page shows, read back through a canvas.
async fn shown_pixel(page: &common::cdp::Page<'_>, x: u32, y: u32) -> Vec<u64> {
    let v = page
        .eval(&format!(
            "(() => {{ const img = document.getElementById('series-frame'); \
             const c = document.createElement('canvas'); c.width = img.naturalWidth; \
             c.height = img.naturalHeight; const g = c.getContext('2d'); g.drawImage(img, 0, 0); \
             return Array.from(g.getImageData({x}, {y}, 1, 1).data.slice(0, 3)); }})()"
        ))
        .await;
    v.as_array()
        .unwrap_or_else(|| panic!("pixel: {v}"))
        .iter()
        .map(|c| c.as_u64().expect("channel"))
        .collect()
}

/// Waits until the page shows frame `t` and its image is loaded.
async fn wait_frame(page: &common::cdp::Page<'_>, t: usize) {
    page.wait_for(
        &format!("document.getElementById('series-frame').dataset.loaded === '{t}'"),
        Duration::from_secs(10),
        &format!("frame {t} to be shown"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn browser_marks_a_time_series_and_shows_tracks_and_growth() {
    common::cdp::chromium_path();
    let (srv, _) = server(false, |_| {}).await;
    let frames_dir = tempfile::tempdir().expect("tempdir");
    let files = write_frames(frames_dir.path());
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    page.goto(&srv.url("/#batch=e2e-ts")).await;
    page.wait_for(
        "document.getElementById('server-info').textContent.startsWith('Model:')",
        Duration::from_secs(20),
        "the page to load the server info",
    )
    .await;
    assert_eq!(
        page.eval("document.getElementById('series-panel').hidden")
            .await,
        Value::Bool(true),
        "no series panel before the batch is a series"
    );
    page.click("#series-on").await;
    page.wait_for(
        "!document.getElementById('series-settings').hidden",
        Duration::from_secs(10),
        "the series settings",
    )
    .await;
    page.eval("(() => { const s = document.getElementById('series-order'); s.value = 'name'; s.dispatchEvent(new Event('change')); })()").await;
    page.eval("(() => { const i = document.getElementById('series-interval'); i.value = '30min'; i.dispatchEvent(new Event('change')); })()").await;
    let c = reqwest::Client::new();
    let url = srv.url("/api/batches/e2e-ts/series");
    let t = std::time::Instant::now();
    loop {
        let s = get_json(&c, &url).await;
        if s["order"] == "name" && s["frame_interval"] == "30min" {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "settings not sent: {s}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    page.drop_files(&files, 720.0, 420.0).await;
    page.wait_for(
        "document.getElementById('series-status').dataset.state === 'done' && document.querySelectorAll('#growth-chart .count-point').length === 5",
        Duration::from_secs(60),
        "the growth curve of the linked series",
    )
    .await;
    let fit = page
        .eval("[document.querySelectorAll('#growth-chart .fit-window').length, document.getElementById('growth-caption').textContent]")
        .await;
    assert_eq!(fit[0], 1, "{fit}");
    assert!(
        fit[1].as_str().unwrap_or("").contains("doubling time"),
        "{fit}"
    );
    let status = page
        .eval("document.getElementById('series-status').textContent")
        .await;
    assert!(
        status.as_str().unwrap_or("").contains("5 frames"),
        "{status}"
    );

    // the list names each image's frame: natural order of names, not upload order
    let tags = page
        .eval("Object.fromEntries(Array.from(document.querySelectorAll('#job-list .job')).map(e => [e.querySelector('.job-name').textContent, e.querySelector('.job-frame') ? e.querySelector('.job-frame').dataset.frame : null]))")
        .await;
    for t in 0..5 {
        assert_eq!(tags[name(t)], t.to_string(), "{tags}");
    }
    // frame 0, then the next button: cell A (moving right 2 px per frame) keeps its colour
    wait_frame(&page, 0).await;
    let caption = page
        .eval("document.getElementById('series-frame-caption').textContent")
        .await;
    assert!(
        caption.as_str().unwrap_or("").contains(&name(0)),
        "frame 0 is the first by name: {caption}"
    );
    let a0 = shown_pixel(&page, 15, 18).await;
    let b0 = shown_pixel(&page, 62, 15).await;
    assert_ne!(a0, b0, "two tracks, two colours");
    assert!(
        a0[0] != a0[1] || a0[1] != a0[2],
        "cell A is coloured: {a0:?}"
    );
    page.click("#series-next").await;
    wait_frame(&page, 1).await;
    assert_eq!(shown_pixel(&page, 17, 18).await, a0, "A in frame 1");
    assert_eq!(shown_pixel(&page, 62, 16).await, b0, "B in frame 1");
    // the slider to the last frame
    page.eval("(() => { const s = document.getElementById('series-slider'); s.value = '4'; s.dispatchEvent(new Event('input')); })()").await;
    wait_frame(&page, 4).await;
    assert_eq!(shown_pixel(&page, 23, 18).await, a0, "A in frame 4");
    assert_eq!(
        page.eval("document.getElementById('series-next').disabled")
            .await,
        Value::Bool(true)
    );
    let art = std::env::var_os("SAMCELL_E2E_ARTIFACTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/e2e-artifacts"));
    std::fs::create_dir_all(&art).unwrap_or_else(|e| panic!("{}: {e}", art.display()));
    page.screenshot(&art.join("series.png"), true).await;
    let zip = page
        .eval("document.getElementById('dl-series-zip').getAttribute('href')")
        .await;
    assert_eq!(zip, "/api/batches/e2e-ts/series/results.zip");
    browser.close().await;
    srv.stop().await;
}
