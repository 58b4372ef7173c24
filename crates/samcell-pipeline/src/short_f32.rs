//! Thresholds in their shortest decimal form: `0.09`, not `0.09000000357627869`, which is the
//! exact value of the f32 `0.09` widened to f64 (what JSON writers print, and what
//! `serde_json::Value` stores for every f32).

/// The f64 with the shortest decimal that reads back as `v` (`v` widened when not finite).
pub fn short_f64(v: f32) -> f64 {
    if v.is_finite() {
        // Display of f32 is the shortest round-trip form; parsed as f64 it keeps those digits
        v.to_string().parse().unwrap_or(f64::from(v))
    } else {
        f64::from(v)
    }
}

/// `#[serde(serialize_with = "...")]` for f32 fields: [`short_f64`], `null` when not finite.
pub fn serialize<S: serde::Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(short_f64(*v))
    } else {
        s.serialize_none()
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize)]
    struct T {
        #[serde(serialize_with = "super::serialize")]
        fill: f32,
    }

    #[test]
    fn thresholds_read_back_and_print_short() {
        for v in [0.09f32, 0.47, 0.1, 1e-7, 0.333_333_34] {
            assert_eq!(super::short_f64(v) as f32, v);
        }
        // through a Value, where a plain f32 widens to 0.09000000357627869
        let v = serde_json::to_value(T { fill: 0.09 }).unwrap();
        assert_eq!(v.to_string(), r#"{"fill":0.09}"#);
        assert_eq!(
            serde_json::to_string(&T { fill: f32::NAN }).unwrap(),
            r#"{"fill":null}"#
        );
    }
}
