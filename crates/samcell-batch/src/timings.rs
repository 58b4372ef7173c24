//! The one timings type of a segmented image, [`Timings`], and its two written forms:
//! - seconds per stage ([`seconds`]), the `seconds` of a record in `run.json` and
//!   `<name>_run.json`: `read`, `tiling`, `enhance`, `predict`, `blend`, `postprocess`, `write`,
//!   `total`;
//! - whole milliseconds ([`millis`]), the `timings_ms` of the web API and its job records:
//!   `read`, `model` (tiling, enhancing, predicting and blending: what the distance map took),
//!   `postprocess`, `outputs` (writing the result files).
//!
//! The millisecond form keeps only the model stages' sum; read back, it is held as `predict`.

use samcell_pipeline::StageTimings;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// Wall-clock time of each stage of one image.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timings {
    /// Reading (and decoding) the input.
    pub read: Duration,
    /// The pipeline's stages: tiling, enhance, predict, blend, post-processing.
    pub stages: StageTimings,
    /// Writing the outputs (and measuring the cells).
    pub write: Duration,
    /// From the start of the read to the end of the writes.
    pub total: Duration,
}

impl Timings {
    /// The stages that make the distance map (tiling, enhance, predict, blend).
    pub fn model(&self) -> Duration {
        let s = &self.stages;
        s.tiling + s.enhance + s.predict + s.blend
    }
}

/// The seconds form (see the module doc), for `#[serde(with = "...")]` on an
/// `Option<Timings>`.
pub mod seconds {
    use super::*;

    #[derive(Serialize)]
    struct Seconds {
        read: f64,
        tiling: f64,
        enhance: f64,
        predict: f64,
        blend: f64,
        postprocess: f64,
        write: f64,
        total: f64,
    }

    /// Writes `t` as seconds per stage (`null` when `None`).
    pub fn serialize<S: Serializer>(t: &Option<Timings>, s: S) -> Result<S::Ok, S::Error> {
        t.map(|t| Seconds {
            read: t.read.as_secs_f64(),
            tiling: t.stages.tiling.as_secs_f64(),
            enhance: t.stages.enhance.as_secs_f64(),
            predict: t.stages.predict.as_secs_f64(),
            blend: t.stages.blend.as_secs_f64(),
            postprocess: t.stages.postprocess.as_secs_f64(),
            write: t.write.as_secs_f64(),
            total: t.total.as_secs_f64(),
        })
        .serialize(s)
    }
}

/// The milliseconds form (see the module doc), for `#[serde(with = "...")]` on an
/// `Option<Timings>`.
pub mod millis {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Millis {
        read: u64,
        model: u64,
        postprocess: u64,
        outputs: u64,
    }

    fn ms(d: Duration) -> u64 {
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
    }

    /// Writes `t` as whole milliseconds (`null` when `None`).
    pub fn serialize<S: Serializer>(t: &Option<Timings>, s: S) -> Result<S::Ok, S::Error> {
        t.map(|t| Millis {
            read: ms(t.read),
            model: ms(t.model()),
            postprocess: ms(t.stages.postprocess),
            outputs: ms(t.write),
        })
        .serialize(s)
    }

    /// Reads the milliseconds form; `model` becomes `stages.predict`, `outputs` `write`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timings>, D::Error> {
        let m = Option::<Millis>::deserialize(d)?;
        Ok(m.map(|m| {
            let (read, model) = (
                Duration::from_millis(m.read),
                Duration::from_millis(m.model),
            );
            let (post, out) = (
                Duration::from_millis(m.postprocess),
                Duration::from_millis(m.outputs),
            );
            Timings {
                read,
                stages: StageTimings {
                    predict: model,
                    postprocess: post,
                    ..StageTimings::default()
                },
                write: out,
                total: read + model + post + out,
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Web {
        #[serde(with = "millis", default)]
        timings_ms: Option<Timings>,
    }

    #[derive(Serialize)]
    struct Cli {
        #[serde(serialize_with = "seconds::serialize")]
        seconds: Option<Timings>,
    }

    fn sample() -> Timings {
        let ms = Duration::from_millis;
        Timings {
            read: ms(5),
            stages: StageTimings {
                tiling: ms(1),
                enhance: ms(2),
                predict: ms(30),
                blend: ms(3),
                postprocess: ms(7),
            },
            write: ms(11),
            total: ms(59),
        }
    }

    #[test]
    fn both_forms_keep_their_field_names() {
        let v = serde_json::to_value(Web {
            timings_ms: Some(sample()),
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"timings_ms": {"read": 5, "model": 36, "postprocess": 7, "outputs": 11}})
        );
        let back: Web = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(back).unwrap(), v, "round trip");
        let old: Web = serde_json::from_str("{}").unwrap();
        assert!(old.timings_ms.is_none());
        let v = serde_json::to_value(Cli {
            seconds: Some(sample()),
        })
        .unwrap();
        let mut keys: Vec<&String> = v["seconds"].as_object().unwrap().keys().collect();
        keys.sort();
        let want = [
            "blend",
            "enhance",
            "postprocess",
            "predict",
            "read",
            "tiling",
            "total",
            "write",
        ];
        assert_eq!(keys, want);
        assert_eq!(v["seconds"]["predict"], 0.03);
    }
}
