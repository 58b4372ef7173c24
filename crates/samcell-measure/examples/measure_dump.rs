//! Helper of `reference/compare_measure.py`: reads a request JSON (data folder, images with
//! perturbation recipes, cases to measure), evaluates and measures them with this crate and writes
//! a response JSON the script compares with py-ctcmetrics and scikit-image.
//!
//! Usage: `cargo run --release -p samcell-measure --example measure_dump -- request.json response.json`

#[path = "../tests/common/mod.rs"]
mod common;

use samcell_measure::{
    evaluate_labels, measure_labels, read_labels, EvalCounts, Intensity, MeasureConfig,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

fn num(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: measure_dump request.json response.json");
        std::process::exit(2);
    }
    let req: Value = serde_json::from_str(&std::fs::read_to_string(&args[1]).expect("request"))
        .expect("request JSON");
    let data = PathBuf::from(req["data"].as_str().expect("data folder"));
    let t0 = Instant::now();
    let mut images_out = Vec::new();
    let mut pooled: BTreeMap<String, EvalCounts> = BTreeMap::new();
    let mut labels_cache = Vec::new();
    for img in req["images"].as_array().expect("images") {
        let gt = read_labels(&data.join(img["path"].as_str().expect("path")))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut vs = Vec::new();
        for v in img["variants"].as_array().expect("variants") {
            let pred = common::apply_ops(&gt, &v["ops"]);
            let e = evaluate_labels(&pred, &gt, "x").expect("evaluate");
            let c = &e.counts;
            pooled
                .entry(v["name"].as_str().expect("name").to_string())
                .or_default()
                .add(c);
            vs.push(json!({
                "name": v["name"], "sha256": common::sha256(&pred),
                "n_gt": c.n_gt, "n_pred": c.n_pred, "fn": c.det_fn, "fp": c.det_fp, "ns": c.det_ns,
                "seg": num(e.scores.seg), "det": num(e.scores.det), "op_csb": num(e.scores.op_csb), "tp": c.tp,
            }));
        }
        images_out.push(json!({"id": img["id"], "gt_sha256": common::sha256(&gt), "variants": vs}));
        labels_cache.push(gt);
    }
    let t_eval = t0.elapsed();
    let pooled_out: Vec<Value> = pooled
        .iter()
        .map(|(k, c)| {
            let s = c.scores();
            json!({"variant": k, "seg": num(s.seg), "det": num(s.det), "op_csb": num(s.op_csb), "fn": c.det_fn, "fp": c.det_fp, "ns": c.det_ns})
        })
        .collect();
    let t1 = Instant::now();
    let mut rows = Vec::new();
    for case in req["cells"].as_array().expect("cells") {
        let id = case["image"].as_u64().expect("image") as usize;
        let img = &req["images"][id];
        let gt = &labels_cache[id];
        let variant = case["variant"].as_str().expect("variant");
        let lab = common::variant_labels(gt, img, variant);
        let inten = common::intensity_image(lab.width(), lab.height());
        let m = measure_labels(&lab, Some(Intensity::U8(&inten)), &MeasureConfig::default())
            .expect("measure");
        for c in &m.cells {
            let i = c.intensity.expect("intensity");
            rows.push(json!([
                case["case"],
                c.label,
                c.area,
                num(c.perimeter),
                c.convex_area,
                num(c.solidity),
                num(c.extent),
                num(c.eccentricity),
                num(c.major_axis_length),
                num(c.minor_axis_length),
                num(c.orientation.to_radians()),
                num(c.equivalent_diameter),
                num(c.center_x),
                num(c.center_y),
                c.bbox_min_x,
                c.bbox_min_y,
                c.bbox_max_x,
                c.bbox_max_y,
                num(c.max_feret),
                num(c.min_feret),
                num(i.mean),
                num(i.std),
                num(i.min),
                num(i.max),
                c.neighbors_adjacent,
                c.neighbors_within,
                num(c.percent_touching),
                c.first_closest_label.unwrap_or(0),
                num(c.first_closest_distance),
            ]));
        }
    }
    let out = json!({
        "images": images_out, "pooled": pooled_out, "cells": rows,
        "seconds": {"read_and_evaluate": t_eval.as_secs_f64(), "measure": t1.elapsed().as_secs_f64()},
    });
    std::fs::write(&args[2], serde_json::to_string(&out).expect("json")).expect("write response");
}
