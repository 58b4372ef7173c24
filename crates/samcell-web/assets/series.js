// SAMCell web GUI: time-series mode. Marks the page's batch as a time series
// (PUT/DELETE /api/batches/{batch}/series), shows the series' state, the growth curve drawn from
// the result's growth.csv rows (inline SVG) and the frames coloured by track (the overlays that
// samcell-track writes) with a frame slider. Uses app.js's globals ($, S, api, enableLink, fmt).
"use strict";

const SV = { frame: 0, drawnKey: "", editing: false };
const SVG_NS = "http://www.w3.org/2000/svg";

async function putSeries() {
  const note = $("series-note");
  const body = { order: $("series-order").value, frame_interval: $("series-interval").value.trim() || null };
  try {
    S.series = await api(`/api/batches/${S.batch}/series`, {
      method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    note.classList.remove("invalid");
    note.textContent = body.frame_interval ? `${S.series.frame_interval} between frames.` : "Optional; without it, time is in frames.";
  } catch (e) {
    note.classList.add("invalid");
    note.textContent = e.message;
  }
  renderSeries();
  schedulePoll(50);
}

async function deleteSeries() {
  try { await api(`/api/batches/${S.batch}/series`, { method: "DELETE" }); } catch (_) { /* not a series */ }
  S.series = null;
  SV.drawnKey = "";
  renderSeries();
}

function seriesStatusText(s) {
  const n = s.frames.length;
  const done = s.frames.filter((f) => f.state === "done").length;
  switch (s.state) {
    case "empty": return "Add the frames: each image is one frame.";
    case "waiting": return `Segmenting frames: ${done} of ${n} done`;
    case "linking": return `Linking ${n} frames…`;
    case "done": return `${n} frames · ${s.result.tracks} tracks · ${s.result.divisions} divisions`;
    case "failed": return "Not linked";
    default: return s.state;
  }
}

function renderSeries() {
  const s = S.series;
  const on = !!s;
  $("series-on").checked = on;
  $("series-settings").hidden = !on;
  if (on && !SV.editing) {
    $("series-order").value = s.order;
    if (document.activeElement !== $("series-interval")) $("series-interval").value = s.frame_interval || "";
  }
  const panel = $("series-panel");
  panel.hidden = !on;
  if (!on) return;
  // each image's frame number in the list, in the series' frame order (counted from 1)
  for (const f of s.frames) {
    const main = document.querySelector(`#job-list .job[data-job="${f.id}"] .job-main`);
    if (!main) continue;
    const tag = document.createElement("span");
    tag.className = "job-frame"; tag.dataset.frame = String(f.frame);
    tag.textContent = `frame ${f.frame + 1}`;
    main.querySelector(".job-name").after(tag);
  }
  const st = $("series-status");
  st.dataset.state = s.state;
  st.textContent = seriesStatusText(s);
  const err = $("series-error");
  err.hidden = !s.error;
  err.textContent = s.error || "";
  const body = $("series-body");
  body.hidden = !(s.state === "done" && s.result);
  if (body.hidden) return;
  const r = s.result;
  const key = `${s.batch}:${s.revision}`;
  const slider = $("series-slider");
  slider.max = String(r.frames - 1);
  if (SV.frame > r.frames - 1) SV.frame = r.frames - 1;
  if (SV.drawnKey !== key) {
    SV.drawnKey = key;
    drawGrowth(r);
    enableLink($("dl-series-zip"), r.files.zip);
    enableLink($("dl-series-tracks"), r.files.tracks_csv);
    enableLink($("dl-series-lineage"), r.files.lineage_csv);
    enableLink($("dl-series-growth"), r.files.growth_csv);
    const png = $("dl-series-png");
    enableLink(png, r.files.growth_png + `?v=${s.revision}`);
    png.removeAttribute("download");
  }
  showFrame(SV.frame);
}

function showFrame(t) {
  const s = S.series;
  if (!s || !s.result) return;
  const r = s.result;
  t = Math.max(0, Math.min(r.frames - 1, t));
  SV.frame = t;
  $("series-slider").value = String(t);
  const img = $("series-frame");
  const src = r.files.overlays[t] + `?v=${s.revision}`;
  if (img.getAttribute("src") !== src) {
    img.dataset.loaded = "";
    img.onload = () => { img.dataset.loaded = String(t); };
    img.setAttribute("src", src);
  }
  img.dataset.frame = String(t);
  const g = r.growth[t];
  const unit = r.time_unit === "frames" ? "" : ` · t = ${fmt.n(g.time, g.time % 1 ? 2 : 0)} ${r.time_unit}`;
  const name = s.frames[t] ? ` · ${s.frames[t].name}` : "";
  $("series-frame-caption").textContent = `Frame ${t + 1} of ${r.frames}${unit}${name} · ${g.count} cells`;
  $("series-prev").disabled = t === 0;
  $("series-next").disabled = t === r.frames - 1;
}

// a "nice" axis step for a range (1, 2 or 5 times a power of ten) giving about `n` ticks
function niceStep(range, n) {
  const raw = range / Math.max(1, n);
  const p = Math.pow(10, Math.floor(Math.log10(raw || 1)));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// count (left axis, blue) and confluency in % (right axis, green, dashed) against time; the
// doubling-time fit window shaded in red
function drawGrowth(r) {
  const chart = $("growth-chart");
  const W = 520, H = 300, L = 50, R = 50, T = 14, B = 40;
  const rows = r.growth;
  const xs = rows.map((g) => g.time);
  const x0 = Math.min(...xs), x1 = Math.max(...xs) === x0 ? x0 + 1 : Math.max(...xs);
  const cmax = Math.max(1, ...rows.map((g) => g.count)) * 1.1;
  const fmax = Math.max(1, ...rows.map((g) => g.confluency * 100)) * 1.1;
  const X = (t) => L + (t - x0) / (x1 - x0) * (W - L - R);
  const Yc = (c) => H - B - c / cmax * (H - T - B);
  const Yf = (f) => H - B - f / fmax * (H - T - B);
  const parts = [];
  if (r.fit) {
    const a = X(rows[r.fit.first].time), b = X(rows[r.fit.last].time);
    parts.push(svg("rect", { class: "fit-window", x: a, y: T, width: Math.max(1, b - a), height: H - T - B, fill: "#d62728", "fill-opacity": 0.12, "data-first": r.fit.first, "data-last": r.fit.last }));
  }
  parts.push(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#889" }));
  parts.push(svg("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#1f77b4" }));
  parts.push(svg("line", { x1: W - R, y1: T, x2: W - R, y2: H - B, stroke: "#2ca02c" }));
  const xstep = niceStep(x1 - x0, 6);
  for (let v = Math.ceil(x0 / xstep) * xstep; v <= x1 + 1e-9; v += xstep) {
    parts.push(svg("line", { x1: X(v), y1: H - B, x2: X(v), y2: H - B + 4, stroke: "#889" }));
    parts.push(svg("text", { x: X(v), y: H - B + 16, "text-anchor": "middle" }, fmt.n(v, xstep % 1 ? 1 : 0)));
  }
  const cstep = niceStep(cmax, 5);
  for (let v = 0; v <= cmax; v += cstep) {
    parts.push(svg("text", { x: L - 6, y: Yc(v) + 4, "text-anchor": "end" }, fmt.n(v, cstep % 1 ? 1 : 0)));
  }
  const fstep = niceStep(fmax, 5);
  for (let v = 0; v <= fmax; v += fstep) {
    parts.push(svg("text", { x: W - R + 6, y: Yf(v) + 4, "text-anchor": "start" }, fmt.n(v, fstep % 1 ? 1 : 0)));
  }
  const unit = r.time_unit === "frames" ? "frame" : `time (${r.time_unit})`;
  parts.push(svg("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }, unit));
  parts.push(svg("text", { x: 12, y: (T + H - B) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${(T + H - B) / 2})` }, "cells"));
  parts.push(svg("text", { x: W - 10, y: (T + H - B) / 2, "text-anchor": "middle", transform: `rotate(90 ${W - 10} ${(T + H - B) / 2})` }, "confluency (%)"));
  const line = (pts, attrs) => svg("polyline", Object.assign({ points: pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" "), fill: "none" }, attrs));
  parts.push(line(rows.map((g) => [X(g.time), Yf(g.confluency * 100)]), { class: "confluency-line", stroke: "#2ca02c", "stroke-width": 2, "stroke-dasharray": "5 3", "data-points": rows.length }));
  parts.push(line(rows.map((g) => [X(g.time), Yc(g.count)]), { class: "count-line", stroke: "#1f77b4", "stroke-width": 2, "data-points": rows.length }));
  for (const g of rows) {
    const c = svg("circle", { class: "count-point", cx: X(g.time), cy: Yc(g.count), r: 3.2, fill: "#1f77b4", "data-frame": g.frame });
    c.append(svg("title", {}, `frame ${g.frame}: ${g.count} cells, confluency ${fmt.n(g.confluency * 100, 1)} %`));
    c.addEventListener("click", () => showFrame(g.frame));
    parts.push(c);
  }
  chart.replaceChildren(...parts);
  chart.dataset.points = String(rows.length);
  $("growth-caption").textContent = r.fit_text.filter((t) => t).join(" · ");
}

function setupSeries() {
  $("series-on").addEventListener("change", (e) => { if (e.target.checked) putSeries(); else deleteSeries(); });
  $("series-order").addEventListener("change", putSeries);
  const iv = $("series-interval");
  iv.addEventListener("focus", () => { SV.editing = true; });
  iv.addEventListener("blur", () => { SV.editing = false; });
  iv.addEventListener("change", putSeries);
  iv.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); putSeries(); } });
  $("series-slider").addEventListener("input", (e) => showFrame(Number(e.target.value)));
  $("series-prev").addEventListener("click", () => showFrame(SV.frame - 1));
  $("series-next").addEventListener("click", () => showFrame(SV.frame + 1));
  renderSeries();
}

setupSeries();
