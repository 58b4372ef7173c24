//! End-to-end test in real headless Chromium (Debian's `chromium` package; `SAMCELL_CHROMIUM`
//! overrides the executable). Fails, never skips, when no browser is installed; skips with a line
//! saying so without the shared tiny model and images (a failure under `SAMCELL_REQUIRE_DATA=1`).
//!
//! The server runs the real tiny SAM model. Through Chromium's own drag-and-drop events (as from
//! a file manager) the test drops three DSB2018 images onto the page, waits until all three are
//! green ("done"), checks the results table shows a positive cell count for each, moves the
//! peak slider with the keyboard and waits for the count to change, downloads the ZIP of
//! everything through the page's link, picks a text file with the file picker to see the red
//! "failed" entry with its reason, drops a folder (its image is added, its text file left out),
//! and drops two large images to see the yellow "processing" entry with its progress. A second
//! test drives a server that has an access token through the address that carries it.
//! Screenshots go to `$SAMCELL_E2E_ARTIFACTS` (default `<workspace>/target/e2e-artifacts`).

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::cdp::Browser;
use common::*;
use serde_json::Value;

fn artefacts() -> PathBuf {
    let d = std::env::var_os("SAMCELL_E2E_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/e2e-artifacts"));
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
    d
}

/// A number as the page prints it, without thousands separators (`,` `.` and the spaces
/// `Intl.NumberFormat` uses); "" when `v` is not a string.
fn without_separators(v: &Value) -> String {
    v.as_str()
        .map(|s| s.replace([',', '.', '\u{a0}', '\u{202f}'], ""))
        .unwrap_or_default()
}

/// Cell counts in the results table, per row, in list order (None where not a number).
async fn table_counts(page: &common::cdp::Page<'_>) -> Vec<Option<u64>> {
    let v = page
        .eval("Array.from(document.querySelectorAll('#results-body td[data-col=count]')).map(td => td.dataset.value === undefined ? null : Number(td.dataset.value))")
        .await;
    v.as_array()
        .expect("array")
        .iter()
        .map(Value::as_u64)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn browser_drop_process_rethreshold_download() {
    // a missing browser fails the test; missing shared materials skip it
    common::cdp::chromium_path();
    if !have(true, &[DSB, USIIGACI]) {
        return;
    }
    let art = artefacts();
    let srv = TestServer::start(|_| {}).await;
    let browser = Browser::launch().await;
    let downloads = tempfile::tempdir().expect("download dir");
    browser.download_to(downloads.path()).await;
    let page = browser.new_page().await;
    page.goto(&srv.url("/#batch=e2e")).await;
    page.wait_for(
        "document.getElementById('server-info').textContent.startsWith('Model:')",
        Duration::from_secs(20),
        "the page to load the server info",
    )
    .await;
    page.screenshot(&art.join("01-empty.png"), false).await;
    // the series settings stay out of sight until Time series is ticked
    let shown = page
        .eval("getComputedStyle(document.getElementById('series-settings')).display")
        .await;
    assert_eq!(
        shown, "none",
        "series settings shown while Time series is unticked"
    );

    // drop three real images onto the middle of the page
    let files: Vec<PathBuf> = IMAGES.iter().map(|n| image(n)).collect();
    page.drop_files(&files, 720.0, 420.0).await;
    page.wait_for(
        "document.querySelectorAll('#job-list .job').length === 3",
        Duration::from_secs(20),
        "three entries in the list",
    )
    .await;
    page.screenshot(&art.join("02-processing.png"), false).await;
    page.wait_for(
        "Array.from(document.querySelectorAll('#job-list .job')).filter(e => e.dataset.state === 'done').length === 3",
        Duration::from_secs(300),
        "all three images to be done",
    )
    .await;
    // every done entry is green: the colour the published GUI used
    let colours = page
        .eval("Array.from(document.querySelectorAll('#job-list .job')).map(e => getComputedStyle(e).backgroundColor)")
        .await;
    for c in colours.as_array().expect("colours") {
        assert_eq!(c, "rgb(220, 243, 226)", "done entries are green");
    }
    page.wait_for(
        "document.querySelectorAll('#results-body td[data-col=count][data-value]').length === 3",
        Duration::from_secs(10),
        "three counts in the table",
    )
    .await;
    let counts = table_counts(&page).await;
    assert_eq!(counts.len(), 3);
    for (c, n) in counts.iter().zip(IMAGES) {
        assert!(
            c.is_some_and(|c| c > 0),
            "{n}: count {c:?} must be positive"
        );
    }
    let summary_total = page
        .eval("document.querySelector('#summary-row [data-col=count]').textContent")
        .await;
    let total: u64 = counts.iter().map(|c| c.unwrap_or(0)).sum();
    assert_eq!(without_separators(&summary_total), total.to_string());
    // the viewer shows the first image with its masks
    page.wait_for(
        "document.getElementById('viewer-message').hidden",
        Duration::from_secs(10),
        "the viewer to show the image",
    )
    .await;
    page.screenshot(&art.join("03-done.png"), false).await;

    // move the peak slider (keyboard on the focused slider) until the selected image's count changes
    let selected = page
        .eval("document.querySelector('#results-body tr.selected').dataset.job")
        .await;
    let sel = selected.as_str().expect("a selected row").to_string();
    let row_count = format!("Number(document.querySelector('#results-body tr[data-job=\"{sel}\"] td[data-col=count]').dataset.value)");
    let before = page.eval(&row_count).await.as_u64().expect("count before");
    page.eval("document.getElementById('peak').focus()").await;
    let peak0 = page
        .eval("Number(document.getElementById('peak').value)")
        .await
        .as_f64()
        .expect("peak");
    let mut changed = None;
    for _ in 0..5 {
        page.key("ArrowLeft", 37).await;
        let t = Instant::now();
        // wait for the re-threshold answer to be shown
        while t.elapsed() < Duration::from_secs(20) {
            let idle = page
                .eval("!document.getElementById('thr-status').classList.contains('busy')")
                .await;
            let now = page.eval(&row_count).await.as_u64();
            if idle == Value::Bool(true) && now.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = page.eval(&row_count).await.as_u64().expect("count after");
        if now != before {
            changed = Some(now);
            break;
        }
    }
    let peak1 = page
        .eval("Number(document.getElementById('peak').value)")
        .await
        .as_f64()
        .expect("peak");
    assert!(peak1 < peak0, "the slider moved: {peak0} -> {peak1}");
    let after = changed.unwrap_or_else(|| {
        panic!("count stayed {before} while the peak slider went {peak0} -> {peak1}")
    });
    let status = page
        .eval("document.getElementById('thr-status').textContent")
        .await;
    assert!(
        without_separators(&status).contains(&format!("{after} cells")),
        "{status}"
    );
    // the server agrees
    let j = get_json(
        &reqwest::Client::new(),
        &srv.url(&format!("/api/jobs/{sel}")),
    )
    .await;
    assert_eq!(j["metrics"]["cell_count"].as_u64(), Some(after));
    assert!((j["peak"].as_f64().expect("peak") - peak1).abs() < 1e-6);
    // the selected image's outlines for QuPath and Fiji are offered
    for (link, key) in [("dl-geojson", "geojson"), ("dl-rois", "rois")] {
        let href = page
            .eval(&format!(
                "document.getElementById('{link}').getAttribute('href')"
            ))
            .await;
        assert_eq!(href, j["files"][key], "{link}");
    }
    page.screenshot(&art.join("04-rethresholded.png"), false)
        .await;
    page.click("label[for=view-distmap]").await;
    page.screenshot(&art.join("05-distance-map.png"), false)
        .await;
    page.click("label[for=view-masks]").await;

    // download everything through the page's ZIP link
    page.click("#dl-zip").await;
    let t = Instant::now();
    let zip_path = loop {
        let found = std::fs::read_dir(downloads.path())
            .expect("download dir")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "zip"));
        if let Some(p) = found {
            break p;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no ZIP downloaded after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        zip_path.file_name().and_then(|n| n.to_str()),
        Some("samcell-results-e2e.zip")
    );
    let mut z =
        zip::ZipArchive::new(std::fs::File::open(&zip_path).expect("zip")).expect("a valid ZIP");
    let names: Vec<String> = (0..z.len())
        .map(|i| z.by_index(i).expect("entry").name().to_string())
        .collect();
    for n in IMAGES {
        let stem = n.trim_end_matches(".png");
        for suffix in [
            "_masks.tif",
            "_overlay.png",
            "_cells.csv",
            "_distmap.tif",
            ".geojson",
            "_rois.zip",
        ] {
            assert!(
                names.contains(&format!("{stem}{suffix}")),
                "{stem}{suffix} missing from {names:?}"
            );
        }
    }
    let mut summary = String::new();
    z.by_name("summary.csv")
        .expect("summary.csv")
        .read_to_string(&mut summary)
        .expect("text");
    assert_eq!(summary.lines().count(), 4, "{summary}");
    assert!(
        summary.contains(&format!(",{after},")),
        "summary.csv has the re-thresholded count {after}:\n{summary}"
    );

    // a file that is not an image, chosen with the file picker: red entry with the server's reason
    let notes = downloads.path().join("notes.txt");
    std::fs::write(&notes, "plate 3, day 2: cells look healthy\n").expect("write");
    page.set_input_files("#file-input", &[notes]).await;
    page.wait_for("Array.from(document.querySelectorAll('#job-list .job')).some(e => e.dataset.state === 'failed')", Duration::from_secs(20), "a failed entry")
        .await;
    let err = page
        .eval("document.querySelector('#job-list .job[data-state=failed] .job-error').textContent")
        .await;
    assert!(
        err.as_str().is_some_and(|s| s.contains("not an image")),
        "{err}"
    );
    let bg = page.eval("getComputedStyle(document.querySelector('#job-list .job[data-state=failed]')).backgroundColor").await;
    assert_eq!(bg, "rgb(253, 225, 223)", "failed entries are red");
    page.screenshot(&art.join("06-failed-upload.png"), false)
        .await;
    page.screenshot(&art.join("07-full-page.png"), true).await;

    // a folder, added with the Scale setting at 2: its images are added, other files in it are
    // left out, and the server segments them at that scale
    page.eval("(() => { const s = document.getElementById('scale'); s.value = '2'; s.dispatchEvent(new Event('change')); return s.value; })()")
        .await;
    let folder = downloads.path().join("plate 7");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::copy(image(IMAGES[0]), folder.join("well-B2.png")).expect("copy into a temp folder");
    std::fs::write(folder.join("protocol.md"), "# staining protocol\n").expect("write");
    page.drop_files(&[folder], 720.0, 420.0).await;
    page.wait_for(
        "Array.from(document.querySelectorAll('#job-list .job-name')).some(e => e.textContent === 'well-B2.png')",
        Duration::from_secs(20),
        "the folder's image in the list",
    )
    .await;
    let names = page
        .eval(
            "Array.from(document.querySelectorAll('#job-list .job-name')).map(e => e.textContent)",
        )
        .await;
    assert!(
        !names.to_string().contains("protocol.md"),
        "non-image files of a folder are skipped: {names}"
    );
    page.wait_for(
        "document.querySelector('#job-list .job[data-state=done] .job-name') && Array.from(document.querySelectorAll('#job-list .job')).some(e => e.dataset.state === 'done' && e.textContent.includes('well-B2.png'))",
        Duration::from_secs(120),
        "the folder's image to be done",
    )
    .await;
    let jobs = get_json(&reqwest::Client::new(), &srv.url("/api/jobs")).await;
    let well = jobs["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| j["name"] == "well-B2.png")
        .expect("the folder's image")
        .clone();
    assert_eq!(well["scale"], serde_json::json!(2.0), "{well}");
    page.eval("document.getElementById('scale').value = ''")
        .await;

    // two large phase-contrast images (16-bit TIFF, 1022x1024: 36 tiles each): one is processing
    // (yellow, with its progress) while the other waits (plain): every state in the list
    let usiigaci = data_dir().join("usiigaci-phc/train/images");
    let more = [usiigaci.join("set1.tif"), usiigaci.join("set2.tif")];
    page.drop_files(&more, 720.0, 420.0).await;
    page.wait_for(
        "Array.from(document.querySelectorAll('#job-list .job')).some(e => e.dataset.state === 'processing' && / [1-9]\\d*\\/36 tiles/.test(e.textContent))",
        Duration::from_secs(120),
        "a 1022x1024 image in progress",
    )
    .await;
    let bg = page.eval("getComputedStyle(document.querySelector('#job-list .job[data-state=processing]')).backgroundColor").await;
    assert_eq!(bg, "rgb(255, 244, 191)", "processing entries are yellow");
    // pick another image from the list: the viewer, the figures and the sliders follow it
    page.click("#job-list .job:nth-child(2) .job-main").await;
    page.wait_for(
        &format!(
            "document.getElementById('viewer-caption').textContent.startsWith({:?})",
            IMAGES[1]
        ),
        Duration::from_secs(10),
        "the second image in the viewer",
    )
    .await;
    let shown = page
        .eval("Number(document.getElementById('m-count').textContent.replace(/[^0-9]/g, ''))")
        .await;
    assert_eq!(shown, page.eval("Number(document.querySelector('#job-list .job:nth-child(2) .job-count').dataset.count)").await);
    page.eval("window.scrollTo(0, 0)").await;
    page.screenshot(&art.join("08-all-states.png"), false).await;

    browser.close().await;
    srv.stop().await;
}

/// A server with an access token (as `samcell serve --host 0.0.0.0` has): the page opened from
/// the printed address (`#token=...`) works as usual; its API calls carry the token as a header,
/// its image layers and downloads as a cookie, and its POST/DELETE pass the server's origin
/// check. The same page without the token is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn browser_with_an_access_token() {
    const TOKEN: &str = "e2e0123456789abcdef0123456789abc";
    common::cdp::chromium_path();
    if !have(true, &[DSB]) {
        return;
    }
    let srv = TestServer::start(|c| c.token = Some(TOKEN.into())).await;
    let browser = Browser::launch().await;
    let downloads = tempfile::tempdir().expect("download dir");
    browser.download_to(downloads.path()).await;

    let page = browser.new_page().await;
    page.goto(&srv.url("/#batch=no-token")).await;
    page.wait_for(
        "document.getElementById('server-info').textContent.includes('token')",
        Duration::from_secs(20),
        "the page to say that the token is missing",
    )
    .await;

    // a fresh document (another query string), opened from the address with the token
    page.goto(&srv.url(&format!("/?from=address#token={TOKEN}&batch=tok")))
        .await;
    page.wait_for(
        "document.getElementById('server-info').textContent.startsWith('Model:')",
        Duration::from_secs(20),
        "the page to load the server info with the token",
    )
    .await;
    page.drop_files(&[image(IMAGES[0])], 720.0, 420.0).await;
    page.wait_for(
        "Array.from(document.querySelectorAll('#job-list .job')).some(e => e.dataset.state === 'done')",
        Duration::from_secs(120),
        "the image to be done",
    )
    .await;
    page.wait_for(
        "S.layers.image && S.layers.image.naturalWidth === 256 && S.layers.fill && S.layers.fill.naturalWidth === 256",
        Duration::from_secs(20),
        "the image layers to load (cookie)",
    )
    .await;
    let hash = page.eval("location.hash").await;
    assert!(
        hash.as_str()
            .is_some_and(|h| h.contains(TOKEN) && h.contains("batch=tok")),
        "the address keeps the token: {hash}"
    );
    // re-threshold from the page: a POST with the page's own Origin and JSON
    page.eval("document.getElementById('peak').focus()").await;
    page.key("ArrowLeft", 37).await;
    page.wait_for(
        "document.getElementById('thr-status').textContent.startsWith('Masks updated')",
        Duration::from_secs(20),
        "the masks to be re-thresholded",
    )
    .await;
    // the ZIP link (a navigation: the cookie carries the token)
    page.click("#dl-zip").await;
    let t = Instant::now();
    while !std::fs::read_dir(downloads.path())
        .expect("download dir")
        .flatten()
        .any(|e| e.path().extension().is_some_and(|x| x == "zip"))
    {
        assert!(t.elapsed() < Duration::from_secs(30), "no ZIP downloaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // remove the entry: a DELETE from the page
    page.click("#job-list .job .job-remove").await;
    page.wait_for(
        "document.querySelectorAll('#job-list .job').length === 0",
        Duration::from_secs(20),
        "the entry to be removed",
    )
    .await;
    assert!(srv.state.jobs().is_empty(), "removed on the server too");
    browser.close().await;
    srv.stop().await;
}

#[test]
fn base64_decodes() {
    use common::cdp::base64_decode;
    assert_eq!(base64_decode("aGVsbG8gd29ybGQ="), b"hello world");
    assert_eq!(base64_decode("AAEC/w=="), [0, 1, 2, 255]);
}
