//! int8 quantisation of a shopper's interest vectors for the state codec
//! (`feature_store/state_codec.py`, whose numpy `_quantise`/`_dequantise` are the definition
//! property tests hold these to, bit for bit, on finite vectors).

/// `(codes, scale)`: scale = the largest magnitude / 127 (1 for a zero or empty vector), each
/// code = the value over the scale in float32, rounded half to even, clipped to +-127.
pub fn quantise(values: &[f32]) -> (Vec<u8>, f64) {
    let peak = values.iter().fold(0.0f32, |m, v| if v.abs() > m { v.abs() } else { m });
    let scale = if peak > 0.0 { f64::from(peak) / 127.0 } else { 1.0 };
    let divisor = scale as f32;
    let codes = values
        .iter()
        .map(|v| ((v / divisor).round_ties_even().clamp(-127.0, 127.0) as i8) as u8)
        .collect();
    (codes, scale)
}

/// The float32 values back: each code times the scale, in float32.
pub fn dequantise(codes: &[u8], scale: f64) -> Vec<f32> {
    let factor = scale as f32;
    codes.iter().map(|&c| f32::from(c as i8) * factor).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_within_half_a_step() {
        let values = [0.5f32, -1.0, 0.25, 0.0, 1e-3];
        let (codes, scale) = quantise(&values);
        assert_eq!(codes[1] as i8, -127);
        for (v, back) in values.iter().zip(dequantise(&codes, scale)) {
            assert!((v - back).abs() <= (scale as f32) / 2.0 + 1e-7);
        }
        assert_eq!(quantise(&[]), (vec![], 1.0));
        assert_eq!(quantise(&[0.0, 0.0]), (vec![0, 0], 1.0));
    }
}
