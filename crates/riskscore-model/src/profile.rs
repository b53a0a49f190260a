//! A profile of the training matrix, stored in the bundle so drift checks can compare new
//! applicants with the population the model learned from without the raw data.

use serde::{Deserialize, Serialize};

use crate::data::TrainingData;

/// Percentiles kept per feature (0, 1, ..., 100).
pub const PERCENTILES: usize = 101;
/// Up to this many distinct values, their frequencies are kept (binary and coded features).
pub const MAX_DISTINCT: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureProfile {
    pub name: String,
    pub count: usize,
    pub missing: usize,
    /// Non-finite values (a column with infinities) are written as null and read as NaN.
    #[serde(deserialize_with = "nullable::f64")]
    pub mean: f64,
    #[serde(deserialize_with = "nullable::f64")]
    pub std: f64,
    /// Percentiles 0..=100 of the non-missing values (empty when all are missing).
    #[serde(deserialize_with = "nullable::vec")]
    pub percentiles: Vec<f64>,
    /// (value, count) when there are at most `MAX_DISTINCT` distinct values.
    #[serde(deserialize_with = "nullable::distinct")]
    pub distinct: Option<Vec<(f64, usize)>>,
    /// The 0.1 and 99.9 percentiles (the intake's training range); absent in bundles written
    /// before them, where the 0 and 100 percentiles stand in.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable::pair"
    )]
    pub tails: Option<(f64, f64)>,
}

impl FeatureProfile {
    /// The range most training values fall in: the 0.1 and 99.9 percentiles (the minimum and
    /// maximum for older bundles); None when the feature was always missing.
    pub fn central_range(&self) -> Option<(f64, f64)> {
        self.tails
            .or_else(|| Some((*self.percentiles.first()?, *self.percentiles.last()?)))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub rows: usize,
    pub positives: usize,
    pub features: Vec<FeatureProfile>,
    /// Percentiles of the out-of-fold probability (the score's own reference distribution).
    pub score_percentiles: Vec<f64>,
}

/// JSON has no NaN or infinity: serde_json writes them as null; these read null back as NaN.
pub(crate) mod nullable {
    use serde::{Deserialize, Deserializer};

    pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }

    #[allow(clippy::type_complexity)]
    pub fn distinct<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<(f64, usize)>>, D::Error> {
        Ok(
            Option::<Vec<(Option<f64>, usize)>>::deserialize(d)?.map(|v| {
                v.into_iter()
                    .map(|(x, n)| (x.unwrap_or(f64::NAN), n))
                    .collect()
            }),
        )
    }

    #[allow(clippy::type_complexity)]
    pub fn pair<'de, D: Deserializer<'de>>(d: D) -> Result<Option<(f64, f64)>, D::Error> {
        Ok(Option::<(Option<f64>, Option<f64>)>::deserialize(d)?
            .map(|(a, b)| (a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN))))
    }

    pub fn vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect())
    }
}

/// The training profile; a worker thread's panic is an error, never a shorter profile.
pub fn profile(data: &TrainingData, oof: &[f64]) -> crate::Result<Profile> {
    let k = data.n_features();
    let names = &data.features;
    let columns: Vec<usize> = (0..k).collect();
    // Two halves of the columns on the two cores.
    let mid = k / 2;
    let (a, b) = columns.split_at(mid);
    let (mut pa, pb) = std::thread::scope(|s| {
        let hb = s.spawn(|| {
            b.iter()
                .map(|&j| feature(data, j, &names[j]))
                .collect::<Vec<_>>()
        });
        let pa: Vec<_> = a.iter().map(|&j| feature(data, j, &names[j])).collect();
        (pa, hb.join())
    });
    let pb = pb.map_err(|_| {
        crate::Error::Internal("a worker thread failed while profiling the features".into())
    })?;
    pa.extend(pb);
    let mut scores: Vec<f64> = oof.iter().copied().filter(|v| v.is_finite()).collect();
    scores.sort_by(f64::total_cmp);
    Ok(Profile {
        rows: data.rows(),
        positives: data.positives(),
        features: pa,
        score_percentiles: percentiles(&scores),
    })
}

fn feature(data: &TrainingData, j: usize, name: &str) -> FeatureProfile {
    let k = data.n_features();
    let mut v: Vec<f64> = (0..data.rows())
        .map(|i| data.x[i * k + j])
        .filter(|x| !x.is_nan())
        .collect();
    let missing = data.rows() - v.len();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n.max(1.0);
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for &x in &v {
        match distinct.last_mut() {
            Some(last) if last.0 == x => last.1 += 1,
            _ => {
                if distinct.len() == MAX_DISTINCT {
                    distinct.clear();
                    distinct.push((f64::NAN, 0));
                    break;
                }
                distinct.push((x, 1));
            }
        }
    }
    let distinct = if distinct.first().is_some_and(|d| d.0.is_nan()) {
        None
    } else {
        Some(distinct)
    };
    FeatureProfile {
        name: name.to_string(),
        count: v.len(),
        missing,
        mean: if v.is_empty() { f64::NAN } else { mean },
        std: var.sqrt(),
        percentiles: percentiles(&v),
        distinct,
        tails: (!v.is_empty()).then(|| (quantile(&v, 0.001), quantile(&v, 0.999))),
    }
}

/// Percentiles 0..=100 of sorted values, by linear interpolation (numpy's default).
pub fn percentiles(sorted: &[f64]) -> Vec<f64> {
    if sorted.is_empty() {
        return Vec::new();
    }
    (0..PERCENTILES)
        .map(|q| quantile(sorted, q as f64 / 100.0))
        .collect()
}

/// The `q` quantile (0..=1) of sorted, non-empty values by linear interpolation.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    // Between two equal values, that value; next to an infinity, the infinity (the line
    // through it is infinite everywhere but at the other end): `inf - inf` would make NaN.
    if sorted[lo] == sorted[hi] || sorted[lo] == f64::NEG_INFINITY {
        return sorted[lo];
    }
    if sorted[hi] == f64::INFINITY {
        return sorted[hi];
    }
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_numpy() {
        // numpy.percentile([1, 2, 3, 4], [0, 50, 100]) = [1, 2.5, 4].
        let p = percentiles(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!((p[0], p[50], p[100]), (1.0, 2.5, 4.0));
        // numpy.percentile([1, 2, 3, 4], [0.1, 99.9]) = [1.003, 3.997].
        assert!((quantile(&[1.0, 2.0, 3.0, 4.0], 0.001) - 1.003).abs() < 1e-12);
        assert!((quantile(&[1.0, 2.0, 3.0, 4.0], 0.999) - 3.997).abs() < 1e-12);
        // Between two infinities, infinity (not inf - inf = NaN).
        let inf = f64::INFINITY;
        let p = percentiles(&[-inf, -inf, 0.5, inf, inf]);
        assert_eq!((p[10], p[50], p[90]), (-inf, 0.5, inf));
        // Next to one, that infinity.
        assert_eq!((p[30], p[70]), (-inf, inf));
        assert!(p.iter().all(|v| !v.is_nan()));
    }

    #[test]
    fn binary_features_keep_their_frequencies() {
        let data = TrainingData {
            ids: vec![1, 2, 3, 4],
            y: vec![0, 1, 0, 1],
            x: vec![0.0, 1.5, 1.0, f64::NAN, 1.0, 2.5, 1.0, 3.5],
            features: vec!["flag".into(), "amount".into()],
        };
        let p = profile(&data, &[0.1, 0.2, 0.3, 0.4]).unwrap();
        assert_eq!(p.features[0].distinct, Some(vec![(0.0, 1), (1.0, 3)]));
        assert_eq!(p.features[1].missing, 1);
        assert!((p.features[1].mean - 2.5).abs() < 1e-12);
    }

    /// A column with an infinity (a ratio over a zero, as the kernel's features have) has an
    /// infinite mean; the profile must still read back (regression: the server refused such
    /// bundles).
    #[test]
    fn infinite_values_read_back() {
        let data = TrainingData {
            ids: vec![1, 2, 3],
            y: vec![0, 1, 0],
            x: vec![1.0, f64::INFINITY, 2.0],
            features: vec!["ratio".into()],
        };
        let p = profile(&data, &[0.1, 0.2, 0.3]).unwrap();
        let text = serde_json::to_string(&p).unwrap();
        let back: Profile = serde_json::from_str(&text).unwrap();
        assert!(back.features[0].mean.is_nan());
        assert_eq!(back.features[0].percentiles[0], 1.0);
        assert_eq!(back.features[0].tails.map(|t| t.0), Some(1.002));
        assert!(back.features[0].tails.is_some_and(|t| t.1.is_nan()));
    }
}
