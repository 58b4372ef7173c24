// SAMCell web GUI. Plain JavaScript, no build step; talks to the JSON API in README-serve.md.
"use strict";

const $ = (id) => document.getElementById(id);
const IMAGE_EXT = /\.(png|jpe?g|tiff?|bmp)$/i;

// ---------- access token ----------
// A server reachable from other computers prints its address with "#token=...". The token goes
// with every API call as a header, and into a cookie (this origin only) for the image and
// download links, which cannot carry headers.
const TOKEN = (() => { const m = /(?:^#|&)token=([A-Za-z0-9_-]{16,})/.exec(location.hash); return m ? m[1] : null; })();
if (TOKEN) document.cookie = `samcell_token_${location.port || "80"}=${TOKEN}; path=/; SameSite=Strict`;
function withToken(headers) { return TOKEN ? Object.assign({ "X-Samcell-Token": TOKEN }, headers || {}) : (headers || {}); }

// ---------- state ----------
const S = {
  batch: null,
  info: null,
  jobs: [],            // from the server, queue order
  summary: null,
  local: [],           // uploads not (yet) known to the server: {key, name, state, error, progress}
  uploadQueue: [],     // {key, file}
  uploading: false,
  selected: null,      // job id
  view: "masks",
  layers: {},          // {image, fill, edges, distmap}: HTMLImageElement
  layerKey: "",
  thr: { busy: false, pending: null },
  pollTimer: null,
  series: null,        // the batch's time series (GET /api/batches/{batch}/series), or null
};

function batchFromHash() {
  const m = /batch=([A-Za-z0-9_-]{1,64})/.exec(location.hash);
  if (m) return m[1];
  const rnd = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("");
  const b = "b-" + rnd;
  history.replaceState(null, "", "#" + (TOKEN ? "token=" + TOKEN + "&" : "") + "batch=" + b);
  return b;
}

// ---------- formatting ----------
const fmt = {
  n(v, d) { return v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toLocaleString(undefined, { minimumFractionDigits: d, maximumFractionDigits: d }); },
  bytes(b) { return b >= 1048576 ? (b / 1048576).toFixed(b >= 10485760 ? 0 : 1) + " MB" : Math.ceil(b / 1024) + " KB"; },
};
// Areas are in µm² for an image with a pixel size (the server's --pixel-size or the file's own);
// the table uses µm² only when every finished image has one, so that its column has one unit.
const hasUm = (m) => !!m && m.mean_area_um2 !== null && m.mean_area_um2 !== undefined;
function tableUsesUm() {
  const done = S.jobs.filter((j) => j.state === "done" && j.metrics);
  return done.length > 0 && done.every((j) => hasUm(j.metrics) || (j.metrics.cell_count === 0 && !!j.pixel_size_um));
}
function areaText(m, um) {
  if (!m) return "–";
  return fmt.n(um ? m.mean_area_um2 : m.mean_area_px, 1);
}
function pixelSizeText(j) {
  if (!j || !j.pixel_size_um) return "";
  const [x, y] = j.pixel_size_um;
  const src = { ome: "OME", imagej: "ImageJ", "tiff-resolution": "TIFF resolution", user: "--pixel-size" }[j.pixel_size_source] || j.pixel_size_source;
  return `${x === y ? x : x + " × " + y} µm/px (${src})`;
}

// ---------- API ----------
async function api(path, opts) {
  const r = await fetch(path, Object.assign({}, opts, { headers: withToken(opts && opts.headers) }));
  let body = null;
  try { body = await r.json(); } catch (_) { /* not JSON */ }
  if (!r.ok) throw new Error((body && body.error) || `${r.status} ${r.statusText}`);
  return body;
}

async function loadInfo() {
  try {
    S.info = await api("/api/info");
    $("server-info").textContent = `Model: ${S.info.model} · max ${fmt.bytes(S.info.max_upload_bytes)} per image`;
    $("formats-hint").textContent = `${S.info.formats.join(", ")} · up to ${fmt.bytes(S.info.max_upload_bytes)} each`;
    setSliders(S.info.defaults.peak, S.info.defaults.fill);
  } catch (e) {
    $("server-info").textContent = "Server not reachable: " + e.message;
  }
}

// ---------- uploads ----------
function addFiles(files, fromFolder) {
  let list = Array.from(files).filter((f) => !f.name.startsWith("."));
  if (fromFolder) {
    // a folder's files come in no particular order: sort them by path, img2 before img10
    list = list.filter((f) => IMAGE_EXT.test(f.name));
    list.sort((a, b) => (a.webkitRelativePath || a.name).localeCompare(b.webkitRelativePath || b.name, undefined, { numeric: true }));
  }
  for (const file of list) {
    const key = "u" + Math.random().toString(36).slice(2);
    const entry = { key, name: file.name, state: "uploading", error: null, progress: 0 };
    if (S.info && file.size > S.info.max_upload_bytes) {
      entry.state = "failed";
      entry.error = `File too large: ${fmt.bytes(file.size)}; this server accepts images up to ${fmt.bytes(S.info.max_upload_bytes)}.`;
    } else {
      S.uploadQueue.push({ key, file });
    }
    S.local.push(entry);
  }
  render();
  pumpUploads();
}

function uploadOne(item) {
  return new Promise((resolve) => {
    const entry = S.local.find((e) => e.key === item.key);
    const form = new FormData();
    form.append("file", item.file, item.file.name);
    const q = new URLSearchParams({ batch: S.batch, peak: $("peak").value, fill: $("fill").value });
    if ($("scale").value) q.set("scale", $("scale").value);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/jobs?" + q.toString());
    if (TOKEN) xhr.setRequestHeader("X-Samcell-Token", TOKEN);
    xhr.upload.onprogress = (e) => { if (entry && e.lengthComputable) { entry.progress = e.loaded / e.total; renderList(); } };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* ignore */ }
      if (xhr.status === 202 && body && body.jobs && body.jobs.length) {
        S.local = S.local.filter((e) => e.key !== item.key);
        for (const j of body.jobs) if (!S.jobs.find((o) => o.id === j.id)) S.jobs.push(j);
      } else if (entry) {
        entry.state = "failed";
        const r = body && body.rejected && body.rejected[0];
        entry.error = (r && r.error) || (body && body.error) || `Upload failed (${xhr.status})`;
      }
      resolve();
    };
    xhr.onerror = () => { if (entry) { entry.state = "failed"; entry.error = "Upload failed: the server could not be reached."; } resolve(); };
    xhr.send(form);
  });
}

async function pumpUploads() {
  if (S.uploading) return;
  S.uploading = true;
  while (S.uploadQueue.length) {
    await uploadOne(S.uploadQueue.shift());
    render();
    schedulePoll(50);
  }
  S.uploading = false;
}

// files and folders from a drop: walk directory entries when the browser gives them
async function filesFromDrop(dt) {
  const items = dt.items ? Array.from(dt.items).filter((i) => i.kind === "file") : [];
  const entries = items.map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
  if (!entries.length || entries.some((e) => !e)) return { files: Array.from(dt.files || []), folder: false };
  const files = [];
  let folder = false;
  const readAll = (reader) => new Promise((res) => {
    const out = [];
    const next = () => reader.readEntries((batch) => { if (!batch.length) res(out); else { out.push(...batch); next(); } }, () => res(out));
    next();
  });
  async function walk(entry) {
    if (entry.isFile) {
      const f = await new Promise((res) => entry.file(res, () => res(null)));
      if (f && (!folder || IMAGE_EXT.test(f.name))) files.push(f);
    } else if (entry.isDirectory) {
      folder = true;
      for (const e of await readAll(entry.createReader())) await walk(e);
    }
  }
  // keep the DataTransfer files for plain file drops (entries can be empty in some browsers)
  const plain = Array.from(dt.files || []);
  for (const e of entries) await walk(e);
  if (!folder && files.length === 0) return { files: plain, folder: false };
  return { files, folder };
}

function setupDrop() {
  let depth = 0;
  const overlay = $("drop-overlay");
  const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes("Files");
  document.addEventListener("dragenter", (e) => { if (!hasFiles(e)) return; e.preventDefault(); depth++; overlay.hidden = false; });
  document.addEventListener("dragover", (e) => { if (!hasFiles(e)) return; e.preventDefault(); e.dataTransfer.dropEffect = "copy"; overlay.hidden = false; });
  document.addEventListener("dragleave", (e) => { if (!hasFiles(e)) return; depth = Math.max(0, depth - 1); if (!depth) overlay.hidden = true; });
  document.addEventListener("drop", async (e) => {
    e.preventDefault();
    depth = 0; overlay.hidden = true;
    if (!e.dataTransfer) return;
    const { files, folder } = await filesFromDrop(e.dataTransfer);
    addFiles(files, folder);
  });
  $("file-input").addEventListener("change", (e) => { addFiles(e.target.files, false); e.target.value = ""; });
  $("folder-input").addEventListener("change", (e) => { addFiles(e.target.files, true); e.target.value = ""; });
}

// ---------- polling ----------
function busy() {
  return S.uploadQueue.length > 0 || S.uploading || S.jobs.some((j) => j.state === "queued" || j.state === "processing")
    || !!(S.series && (S.series.state === "waiting" || S.series.state === "linking"));
}
function schedulePoll(ms) {
  clearTimeout(S.pollTimer);
  S.pollTimer = setTimeout(poll, ms);
}
async function poll() {
  try {
    const r = await api("/api/jobs?batch=" + encodeURIComponent(S.batch));
    S.jobs = r.jobs;
    S.summary = r.summary;
    S.series = r.series;
    if (!S.selected || !S.jobs.find((j) => j.id === S.selected)) {
      const first = S.jobs.find((j) => j.state === "done");
      if (first) select(first.id, false);
    }
    render();
  } catch (e) {
    $("server-info").textContent = "Lost contact with the server: " + e.message;
  }
  schedulePoll(busy() ? 500 : 4000);
}

// ---------- rendering ----------
function stateText(j) {
  switch (j.state) {
    case "uploading": return `Uploading ${Math.round((j.progress || 0) * 100)}%`;
    case "queued": return j.queue_ahead ? `Queued · ${j.queue_ahead} ahead` : "Queued";
    case "processing": return j.progress && j.progress.total ? `Processing · ${j.progress.done}/${j.progress.total} tiles` : "Processing · reading image";
    case "done": return "Done";
    case "failed": return "Failed";
    default: return j.state;
  }
}

function jobItem(j, isLocal) {
  const li = document.createElement("li");
  li.className = "job" + (j.id && j.id === S.selected ? " selected" : "");
  li.dataset.state = j.state;
  if (j.id) li.dataset.job = j.id;
  const main = document.createElement("button");
  main.type = "button";
  main.className = "job-main";
  main.disabled = isLocal;
  main.setAttribute("aria-label", `${j.name}: ${stateText(j)}`);
  const name = document.createElement("span");
  name.className = "job-name"; name.textContent = j.name; name.title = j.name;
  const st = document.createElement("span");
  st.className = "job-state"; st.textContent = stateText(j);
  main.append(name, st);
  if (j.state === "done" && j.metrics) {
    const c = document.createElement("span");
    c.className = "job-count"; c.dataset.count = j.metrics.cell_count;
    c.textContent = `${j.metrics.cell_count.toLocaleString()} cells`;
    main.append(c);
  }
  if (j.state === "processing" || j.state === "uploading") {
    const bar = document.createElement("span");
    bar.className = "job-progress";
    const i = document.createElement("i");
    const frac = j.state === "uploading" ? (j.progress || 0) : (j.progress && j.progress.total ? j.progress.done / j.progress.total : 0.03);
    i.style.width = `${Math.max(3, Math.round(frac * 100))}%`;
    bar.append(i);
    main.append(bar);
  }
  if (j.state === "failed" && j.error) {
    const err = document.createElement("span");
    err.className = "job-error"; err.textContent = j.error;
    main.append(err);
  }
  for (const note of j.state === "done" ? [j.warning, j.domain_warning] : []) {
    if (!note) continue;
    const w = document.createElement("span");
    w.className = "job-warning"; w.textContent = note;
    main.append(w);
  }
  if (!isLocal) main.addEventListener("click", () => select(j.id, true));
  li.append(main);
  if (j.state !== "processing" && j.state !== "uploading") {
    const rm = document.createElement("button");
    rm.type = "button"; rm.className = "job-remove"; rm.textContent = "×";
    rm.setAttribute("aria-label", `Remove ${j.name}`); rm.title = "Remove from the list";
    rm.addEventListener("click", (e) => { e.stopPropagation(); isLocal ? removeLocal(j.key) : removeJob(j.id); });
    li.append(rm);
  }
  return li;
}

function renderList() {
  const ol = $("job-list");
  const items = S.jobs.map((j) => jobItem(j, false)).concat(S.local.map((j) => jobItem(j, true)));
  ol.replaceChildren(...items);
  const total = S.jobs.length + S.local.length;
  const done = S.jobs.filter((j) => j.state === "done").length;
  $("list-count").textContent = total ? `(${done}/${total} done)` : "";
  $("empty-list").hidden = total > 0;
  $("clear-failed").hidden = !S.jobs.concat(S.local).some((j) => j.state === "failed");
}

function renderTable() {
  const body = $("results-body");
  const useUm = tableUsesUm();
  $("area-unit").textContent = useUm ? "(µm²)" : "(px²)";
  const rows = S.jobs.map((j) => {
    const tr = document.createElement("tr");
    tr.dataset.job = j.id;
    tr.dataset.state = j.state;
    if (j.id === S.selected) tr.className = "selected";
    const m = j.state === "done" ? j.metrics : null;
    const cells = [
      ["name", j.name],
      ["count", m ? m.cell_count.toLocaleString() : (j.state === "failed" ? "failed" : "…")],
      ["area", m ? areaText(m, useUm) : ""],
      ["confluency", m ? fmt.n(m.confluency_percent, 1) : ""],
      ["neighbors", m ? fmt.n(m.mean_neighbors, 2) : ""],
      ["thresholds", m ? `${j.peak.toFixed(2)} / ${j.fill.toFixed(2)}` : ""],
    ];
    for (const [col, text] of cells) {
      const td = document.createElement("td");
      td.dataset.col = col;
      td.textContent = text;
      if (col === "name") { td.className = "name"; td.title = j.name; } else td.className = "num";
      if (col === "count" && m) td.dataset.value = m.cell_count;
      if (col === "count" && j.state === "failed") td.classList.add("state-failed");
      tr.append(td);
    }
    tr.addEventListener("click", () => select(j.id, true));
    return tr;
  });
  body.replaceChildren(...rows);
  const s = S.summary;
  const row = $("summary-row");
  const set = (col, text) => { row.querySelector(`[data-col="${col}"]`).textContent = text; };
  row.querySelector("th").textContent = s && s.done ? `All images (${s.done})` : "All images";
  set("count", s && s.done ? s.cell_count.toLocaleString() : "–");
  set("area", s && s.done ? fmt.n(useUm ? s.mean_area_um2 : s.mean_area_px, 1) : "–");
  set("confluency", s && s.done ? fmt.n(s.mean_confluency_percent, 1) : "–");
  set("neighbors", s && s.done ? fmt.n(s.mean_neighbors, 2) : "–");
  const anyDone = !!(s && s.done);
  enableLink($("dl-summary"), anyDone ? `/api/batches/${S.batch}/summary.csv` : null);
  enableLink($("dl-zip"), anyDone ? `/api/batches/${S.batch}/results.zip` : null);
}

function enableLink(a, href) {
  if (href) { a.href = href; a.classList.remove("disabled"); a.removeAttribute("aria-disabled"); a.setAttribute("download", ""); }
  else { a.removeAttribute("href"); a.classList.add("disabled"); a.setAttribute("aria-disabled", "true"); }
}

function renderSelected() {
  const j = S.jobs.find((o) => o.id === S.selected);
  $("selected-name").textContent = j ? j.name : "None";
  const m = j && j.state === "done" ? j.metrics : null;
  $("m-count").textContent = m ? m.cell_count.toLocaleString() : "–";
  $("m-area").innerHTML = "";
  $("m-area").append(m ? areaText(m, hasUm(m)) : "–");
  if (m) { const u = document.createElement("small"); u.textContent = hasUm(m) ? " µm²" : " px²"; $("m-area").append(u); }
  $("m-confluency").textContent = m ? fmt.n(m.confluency_percent, 1) + " %" : "–";
  $("m-neighbors").textContent = m ? fmt.n(m.mean_neighbors, 2) : "–";
  const f = m ? j.files : null;
  enableLink($("dl-masks"), f && f.masks);
  enableLink($("dl-overlay"), f && f.overlay);
  enableLink($("dl-cells"), f && f.cells);
  enableLink($("dl-distmap"), f && f.distmap);
  enableLink($("dl-geojson"), f && f.geojson);
  enableLink($("dl-rois"), f && f.rois);
  let caption = "";
  if (j) {
    caption = j.name;
    if (j.width && j.height) caption += ` · ${j.width} × ${j.height} px`;
    if (j.pixel_size_um) caption += ` · ${pixelSizeText(j)}`;
    if (j.source) {
      // "TIFF 1024x1022 1 channel(s) u16, page 1/1, ..." -> "TIFF, 16-bit"
      const t = j.source.split(",")[0].split(" ");
      const depth = { u8: "8-bit", u16: "16-bit", u32: "32-bit", i16: "16-bit signed", f32: "32-bit float", f64: "64-bit float" }[t[t.length - 1]];
      caption += ` · ${t[0]}${depth ? ", " + depth : ""}`;
    }
  }
  $("viewer-caption").textContent = caption;
  $("viewer-caption").title = j && j.source ? j.source : "";
  loadLayers(j);
}

function render() {
  renderList();
  renderTable();
  renderSelected();
  if (typeof renderSeries === "function") renderSeries(); // series.js
}

const THR_HINT = "Masks update at once; the model does not run again.";

function select(id, syncSliders) {
  if (S.selected !== id && !S.thr.busy) $("thr-status").textContent = THR_HINT;
  S.selected = id;
  const j = S.jobs.find((o) => o.id === id);
  if (j && j.state === "done" && (syncSliders || !S.thr.busy)) setSliders(j.peak, j.fill);
  S.fitPending = true;
  render();
}

async function removeJob(id) {
  try {
    await api(`/api/jobs/${id}`, { method: "DELETE" });
    S.jobs = S.jobs.filter((j) => j.id !== id);
    if (S.selected === id) S.selected = null;
    render();
    schedulePoll(50);
  } catch (e) { alert(e.message); }
}
function removeLocal(key) { S.local = S.local.filter((e) => e.key !== key); render(); }

// ---------- thresholds ----------
function setSliders(peak, fill) {
  $("peak").value = peak; $("fill").value = fill;
  $("peak-val").textContent = Number(peak).toFixed(2);
  $("fill-val").textContent = Number(fill).toFixed(2);
  $("mark-peak").style.left = `calc(${peak * 100}% - 1px)`;
  $("mark-fill").style.left = `calc(${fill * 100}% - 1px)`;
}

function onSlider() {
  const peak = Number($("peak").value), fill = Number($("fill").value);
  setSliders(peak, fill);
  const j = S.jobs.find((o) => o.id === S.selected);
  if (!j || j.state !== "done") return;
  S.thr.pending = { id: j.id, peak, fill };
  runThreshold();
}

async function runThreshold() {
  if (S.thr.busy || !S.thr.pending) return;
  const { id, peak, fill } = S.thr.pending;
  S.thr.pending = null;
  S.thr.busy = true;
  const status = $("thr-status");
  status.textContent = "Updating masks…"; status.classList.add("busy");
  try {
    const j = await api(`/api/jobs/${id}/threshold`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ peak, fill }),
    });
    const i = S.jobs.findIndex((o) => o.id === id);
    if (i >= 0) S.jobs[i] = j;
    status.textContent = `Masks updated: ${j.metrics.cell_count.toLocaleString()} cells at peak ${peak.toFixed(2)}, fill ${fill.toFixed(2)}.`;
    await refreshSummary();
  } catch (e) {
    status.textContent = "Could not update: " + e.message;
  }
  status.classList.remove("busy");
  S.thr.busy = false;
  render();
  if (S.thr.pending) runThreshold();
}

async function refreshSummary() {
  try { const r = await api("/api/jobs?batch=" + encodeURIComponent(S.batch)); S.summary = r.summary; S.jobs = r.jobs; S.series = r.series; } catch (_) { /* next poll */ }
}

async function applyAll() {
  const peak = Number($("peak").value), fill = Number($("fill").value);
  const status = $("thr-status");
  status.textContent = "Applying to all images…"; status.classList.add("busy");
  try {
    const r = await api(`/api/batches/${S.batch}/threshold`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ peak, fill }),
    });
    status.textContent = `Applied peak ${peak.toFixed(2)}, fill ${fill.toFixed(2)} to ${r.jobs.length} image(s).`;
    await refreshSummary();
  } catch (e) { status.textContent = "Could not apply: " + e.message; }
  status.classList.remove("busy");
  render();
}

// ---------- viewer ----------
const V = { scale: 1, tx: 0, ty: 0, w: 0, h: 0, drag: null };

function loadImage(src) {
  return new Promise((res) => { const im = new Image(); im.onload = () => res(im); im.onerror = () => res(null); im.src = src; });
}

async function loadLayers(j) {
  const msg = $("viewer-message");
  if (!j || j.state !== "done") {
    S.layers = {}; S.layerKey = "";
    msg.hidden = false;
    msg.innerHTML = "";
    if (!j && !S.jobs.length && !S.local.length) msg.append("Drop images to start.", document.createElement("br"), Object.assign(document.createElement("span"), { textContent: "Results appear here when an image is done." }));
    else if (!j) msg.append("Working on your images…", document.createElement("br"), Object.assign(document.createElement("span"), { textContent: "The first one appears here as soon as it is done." }));
    else if (j.state === "failed") msg.append(`${j.name} failed`, document.createElement("br"), Object.assign(document.createElement("span"), { textContent: j.error || "" }));
    else msg.append(`${j.name}: ${stateText(j).toLowerCase()}`, document.createElement("br"), Object.assign(document.createElement("span"), { textContent: "The masks appear here when it is done." }));
    draw();
    return;
  }
  const key = `${j.id}:${j.revision}`;
  if (key === S.layerKey) return;
  const sameImage = S.layerKey.startsWith(j.id + ":");
  S.layerKey = key;
  const v = `?v=${j.revision}`;
  const [image, shown, fill, edges, distmap] = await Promise.all([
    sameImage && S.layers.image ? S.layers.image : loadImage(j.files.image),
    sameImage && S.layers.shown ? S.layers.shown : loadImage(j.files.view_image),
    loadImage(j.files.view_fill + v),
    loadImage(j.files.view_edges + v),
    sameImage && S.layers.distmap ? S.layers.distmap : loadImage(j.files.view_distmap),
  ]);
  if (S.layerKey !== key) return; // a newer request won
  S.layers = { image, shown, fill, edges, distmap };
  msg.hidden = true;
  V.w = image ? image.naturalWidth : 0; V.h = image ? image.naturalHeight : 0;
  if (!sameImage || S.fitPending) { fit(); S.fitPending = false; }
  draw();
}

function canvasSize() {
  const c = $("canvas");
  const r = c.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  if (c.width !== Math.round(r.width * dpr) || c.height !== Math.round(r.height * dpr)) {
    c.width = Math.round(r.width * dpr); c.height = Math.round(r.height * dpr);
  }
  return { w: r.width, h: r.height, dpr };
}

function fit() {
  const { w, h } = canvasSize();
  if (!V.w || !V.h) return;
  V.scale = Math.min(w / V.w, h / V.h) * 0.96;
  V.tx = (w - V.w * V.scale) / 2; V.ty = (h - V.h * V.scale) / 2;
  draw();
}

function zoomAt(factor, cx, cy) {
  const ns = Math.min(64, Math.max(0.02, V.scale * factor));
  V.tx = cx - (cx - V.tx) * (ns / V.scale);
  V.ty = cy - (cy - V.ty) * (ns / V.scale);
  V.scale = ns;
  draw();
}

function draw() {
  const c = $("canvas");
  const { w, h, dpr } = canvasSize();
  const ctx = c.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, c.width, c.height);
  $("zoom-level").textContent = `${Math.round(V.scale * 100)}%`;
  const L = S.layers;
  $("colorbar").hidden = !(S.view === "distmap" && L.image);
  $("opacity").disabled = S.view !== "masks";
  if (!L.image) return;
  ctx.setTransform(dpr * V.scale, 0, 0, dpr * V.scale, dpr * V.tx, dpr * V.ty);
  ctx.imageSmoothingEnabled = V.scale < 1;
  ctx.drawImage($("autocontrast").checked && L.shown ? L.shown : L.image, 0, 0);
  const opacity = Number($("opacity").value) / 100;
  if (S.view === "masks" && L.fill) { ctx.globalAlpha = opacity; ctx.drawImage(L.fill, 0, 0); }
  if (S.view === "distmap" && L.distmap) ctx.drawImage(L.distmap, 0, 0); // a view of its own, opaque
  ctx.globalAlpha = 1;
  if (S.view !== "image" && $("outlines").checked && L.edges) ctx.drawImage(L.edges, 0, 0);
  void w; void h;
}

function setupViewer() {
  const c = $("canvas");
  c.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = c.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  c.addEventListener("pointerdown", (e) => { V.drag = { x: e.clientX, y: e.clientY, tx: V.tx, ty: V.ty }; c.setPointerCapture(e.pointerId); c.classList.add("dragging"); });
  c.addEventListener("pointermove", (e) => { if (!V.drag) return; V.tx = V.drag.tx + e.clientX - V.drag.x; V.ty = V.drag.ty + e.clientY - V.drag.y; draw(); });
  const end = () => { V.drag = null; c.classList.remove("dragging"); };
  c.addEventListener("pointerup", end);
  c.addEventListener("pointercancel", end);
  c.addEventListener("dblclick", fit);
  c.addEventListener("keydown", (e) => {
    const { w, h } = canvasSize();
    const step = 40;
    if (e.key === "+" || e.key === "=") zoomAt(1.25, w / 2, h / 2);
    else if (e.key === "-") zoomAt(0.8, w / 2, h / 2);
    else if (e.key === "0") fit();
    else if (e.key === "ArrowLeft") { V.tx += step; draw(); }
    else if (e.key === "ArrowRight") { V.tx -= step; draw(); }
    else if (e.key === "ArrowUp") { V.ty += step; draw(); }
    else if (e.key === "ArrowDown") { V.ty -= step; draw(); }
    else return;
    e.preventDefault();
  });
  $("zoom-in").addEventListener("click", () => { const { w, h } = canvasSize(); zoomAt(1.25, w / 2, h / 2); });
  $("zoom-out").addEventListener("click", () => { const { w, h } = canvasSize(); zoomAt(0.8, w / 2, h / 2); });
  $("zoom-fit").addEventListener("click", fit);
  $("zoom-one").addEventListener("click", () => { const { w, h } = canvasSize(); zoomAt(1 / V.scale, w / 2, h / 2); });
  for (const r of document.querySelectorAll('input[name="view"]')) {
    r.addEventListener("change", () => { S.view = r.value; draw(); });
  }
  $("opacity").addEventListener("input", () => { $("opacity-val").textContent = $("opacity").value + "%"; draw(); });
  $("outlines").addEventListener("change", draw);
  $("autocontrast").addEventListener("change", draw);
  window.addEventListener("resize", () => { if (S.layers.image) fit(); else draw(); });
}

// ---------- start ----------
function start() {
  S.batch = batchFromHash();
  window.addEventListener("hashchange", () => { S.batch = batchFromHash(); S.jobs = []; S.series = null; S.selected = null; schedulePoll(0); });
  setupDrop();
  setupViewer();
  $("peak").addEventListener("input", onSlider);
  $("fill").addEventListener("input", onSlider);
  $("apply-all").addEventListener("click", applyAll);
  $("reset-thr").addEventListener("click", () => {
    if (!S.info) return;
    setSliders(S.info.defaults.peak, S.info.defaults.fill);
    onSlider();
  });
  $("clear-failed").addEventListener("click", async () => {
    S.local = S.local.filter((e) => e.state !== "failed");
    for (const j of S.jobs.filter((o) => o.state === "failed")) await removeJob(j.id);
    render();
  });
  loadInfo().then(() => poll());
  render();
}

start();
