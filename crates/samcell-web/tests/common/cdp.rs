//! A small Chrome DevTools Protocol client for the browser test: launches headless Chromium,
//! talks CDP over its WebSocket (JSON messages with ids; flattened target sessions), and offers
//! the few page actions the test needs (evaluate, wait, click, keys, drop files, screenshots).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// The Chromium executable: `$SAMCELL_CHROMIUM`, else `chromium` / `chromium-browser` /
/// `google-chrome` on PATH. Panics with instructions when none is found (the test must fail, not
/// skip).
pub fn chromium_path() -> PathBuf {
    if let Some(p) = std::env::var_os("SAMCELL_CHROMIUM") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "SAMCELL_CHROMIUM={} does not exist",
            p.display()
        );
        return p;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "the browser test needs Chromium and none was found: install Debian's package \
         (`apt-get install -y chromium`) or set SAMCELL_CHROMIUM to a Chrome/Chromium executable"
    );
}

pub struct Browser {
    child: tokio::process::Child,
    tx: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next: AtomicU64,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts headless Chromium with a fresh profile and connects to it.
    pub async fn launch() -> Self {
        let exe = chromium_path();
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = tokio::process::Command::new(&exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                "--window-size=1440,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut log = Vec::new();
        let ws = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(i) = line.find("ws://") {
                    return Some(line[i..].trim().to_string());
                }
                log.push(line);
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            panic!(
                "Chromium ({}) did not report its DevTools address; its output:\n{}",
                exe.display(),
                log.join("\n")
            )
        });
        // keep draining stderr so Chromium never blocks on a full pipe
        tokio::spawn(async move {
            while let Ok(Some(l)) = lines.next_line().await {
                if std::env::var_os("SAMCELL_E2E_BROWSER_LOG").is_some() {
                    eprintln!("chromium: {l}");
                }
            }
        });
        let (socket, _) = tokio_tungstenite::connect_async(ws.as_str())
            .await
            .expect("DevTools WebSocket");
        let (mut sink, mut stream) = socket.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let p2 = pending.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                if let Some(id) = v.get("id").and_then(Value::as_u64) {
                    if let Some(tx) = p2.lock().expect("pending").remove(&id) {
                        let r = match v.get("error") {
                            Some(e) => Err(e.to_string()),
                            None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
                        };
                        let _ = tx.send(r);
                    }
                }
            }
        });
        Self {
            child,
            tx,
            pending,
            next: AtomicU64::new(1),
            _profile: profile,
        }
    }

    /// One CDP call (browser-level when `session` is None).
    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("pending").insert(id, tx);
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.tx
            .send(Message::Text(msg.to_string().into()))
            .map_err(|_| "DevTools connection closed".to_string())?;
        tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .map_err(|_| format!("{method}: no answer within 60 s"))?
            .map_err(|_| format!("{method}: connection closed"))?
    }

    /// Opens a page (1440x1000 CSS px) and returns it.
    pub async fn new_page(&self) -> Page<'_> {
        let t = self
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await
            .expect("createTarget");
        let target = t["targetId"].as_str().expect("targetId").to_string();
        let a = self
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target, "flatten": true }),
            )
            .await
            .expect("attachToTarget");
        let session = a["sessionId"].as_str().expect("sessionId").to_string();
        let page = Page {
            browser: self,
            session,
        };
        page.cmd("Page.enable", json!({})).await;
        page.cmd("Runtime.enable", json!({})).await;
        page.cmd(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1440, "height": 1000, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
        page
    }

    /// Sends downloads to `dir`.
    pub async fn download_to(&self, dir: &Path) {
        self.call(
            None,
            "Browser.setDownloadBehavior",
            json!({ "behavior": "allow", "downloadPath": dir.display().to_string(), "eventsEnabled": true }),
        )
        .await
        .expect("setDownloadBehavior");
    }

    pub async fn close(mut self) {
        let _ = self.call(None, "Browser.close", json!({})).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}

pub struct Page<'a> {
    browser: &'a Browser,
    session: String,
}

impl Page<'_> {
    pub async fn cmd(&self, method: &str, params: Value) -> Value {
        self.browser
            .call(Some(&self.session), method, params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    pub async fn goto(&self, url: &str) {
        self.cmd("Page.navigate", json!({ "url": url })).await;
        self.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(30),
            "page load",
        )
        .await;
    }

    /// Evaluates `expr` in the page (promises awaited) and returns its JSON value.
    pub async fn eval(&self, expr: &str) -> Value {
        let r = self
            .cmd(
                "Runtime.evaluate",
                json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        if let Some(e) = r.get("exceptionDetails") {
            panic!("page script failed: {expr}\n{e}");
        }
        r["result"]["value"].clone()
    }

    /// Polls `expr` until it is true; panics with `what` and the page's list after `timeout`.
    pub async fn wait_for(&self, expr: &str, timeout: Duration, what: &str) {
        let t = Instant::now();
        loop {
            if self.eval(expr).await == Value::Bool(true) {
                return;
            }
            if t.elapsed() > timeout {
                let list = self.eval("document.getElementById('job-list') ? document.getElementById('job-list').innerText : document.body.innerText.slice(0, 2000)").await;
                panic!("timed out after {timeout:?} waiting for {what}; the page's image list:\n{list}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Centre of the element matched by `selector`, in CSS px (scrolled into view first).
    pub async fn center(&self, selector: &str) -> (f64, f64) {
        let v = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({sel}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); \
                 const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
                sel = json!(selector)
            ))
            .await;
        let a = v
            .as_array()
            .unwrap_or_else(|| panic!("no element {selector}"));
        (a[0].as_f64().expect("x"), a[1].as_f64().expect("y"))
    }

    /// A real mouse click (press + release) at the element's centre.
    pub async fn click(&self, selector: &str) {
        let (x, y) = self.center(selector).await;
        for t in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.cmd(
                "Input.dispatchMouseEvent",
                json!({ "type": t, "x": x, "y": y, "button": "left", "buttons": if t == "mousePressed" { 1 } else { 0 }, "clickCount": 1 }),
            )
            .await;
        }
    }

    /// A key press (keyDown + keyUp) to the focused element; `code` is the DOM key name.
    pub async fn key(&self, key: &str, vk: u32) {
        for t in ["rawKeyDown", "keyUp"] {
            self.cmd(
                "Input.dispatchKeyEvent",
                json!({ "type": t, "key": key, "code": key, "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk }),
            )
            .await;
        }
    }

    /// Gives `files` to the `<input type=file>` matched by `selector` (what choosing them in
    /// the file dialog does).
    pub async fn set_input_files(&self, selector: &str, files: &[PathBuf]) {
        let doc = self.cmd("DOM.getDocument", json!({ "depth": 0 })).await;
        let root = doc["root"]["nodeId"].as_u64().expect("document node");
        let q = self
            .cmd(
                "DOM.querySelector",
                json!({ "nodeId": root, "selector": selector }),
            )
            .await;
        let node = q["nodeId"]
            .as_u64()
            .filter(|n| *n != 0)
            .unwrap_or_else(|| panic!("no element {selector}"));
        self.cmd(
            "DOM.setFileInputFiles",
            json!({ "files": canonical(files), "nodeId": node }),
        )
        .await;
    }

    /// Drags files in from outside the browser and drops them at (x, y), through Chromium's
    /// own drag-and-drop path (`Input.dispatchDragEvent`: dragEnter, dragOver, drop), as a file
    /// manager would.
    pub async fn drop_files(&self, files: &[PathBuf], x: f64, y: f64) {
        let data = json!({ "items": [], "files": canonical(files), "dragOperationsMask": 1 });
        for t in ["dragEnter", "dragOver", "drop"] {
            self.cmd(
                "Input.dispatchDragEvent",
                json!({ "type": t, "x": x, "y": y, "data": data.clone() }),
            )
            .await;
        }
    }

    /// Saves a PNG screenshot of the viewport (or the whole page).
    pub async fn screenshot(&self, path: &Path, full_page: bool) {
        let mut params = json!({ "format": "png" });
        if full_page {
            let m = self.cmd("Page.getLayoutMetrics", json!({})).await;
            let (w, h) = (
                m["cssContentSize"]["width"].as_f64().unwrap_or(1440.0),
                m["cssContentSize"]["height"].as_f64().unwrap_or(1000.0),
            );
            params = json!({ "format": "png", "captureBeyondViewport": true, "clip": { "x": 0, "y": 0, "width": w, "height": h, "scale": 1 } });
        }
        let r = self.cmd("Page.captureScreenshot", params).await;
        let b64 = r["data"].as_str().expect("screenshot data");
        let bytes = base64_decode(b64);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).expect("artefact dir");
        }
        std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("screenshot: {}", path.display());
    }
}

/// Chromium grants the page read access to a file by the path it is given but reads it by the
/// resolved path: with `..` in it the page gets NotReadableError. Canonical paths avoid that.
fn canonical(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|p| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .display()
                .to_string()
        })
        .collect()
}

/// Standard base64 (RFC 4648) decoding of CDP's screenshot data.
pub fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let Some(v) = val(c) else { continue }; // '=' padding and whitespace
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
