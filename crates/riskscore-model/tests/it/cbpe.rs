//! CBPE against NannyML 0.13.1 (scripts/cbpe_oracle.py in .venv-nannyml; required in CI): the
//! same calibration check and splits, chunks, estimates (1e-6, recalibrated or not), sampling
//! errors, alert bands and realized figures; and the estimate tracks the realized figures on
//! data whose labels follow the probabilities.

use std::fmt::Write;
use std::path::Path;

use riskscore_data::synth::rng::{sigmoid, Rng};
use riskscore_model::calibration::{needs_calibration, stratified_shuffle_split};
use riskscore_model::cbpe::{Cbpe, Metrics, Reference};
use riskscore_model::cost::CostMatrix;
use serde_json::Value;

const COST: CostMatrix = CostMatrix {
    fn_cost: 10.0,
    fp_cost: 1.0,
    tp_cost: 0.0,
    tn_cost: 0.0,
};

/// `n` calibrated probabilities around `shift` (log-odds), outcomes drawn from them.
fn draw(n: usize, shift: f64, seed: u64) -> (Vec<f64>, Vec<u8>) {
    miscalibrated(n, shift, 0.0, seed)
}

/// As [`draw`], the model's probabilities off by `bias` in log-odds (a class-weighted model
/// says 1 where the truth is 0).
fn miscalibrated(n: usize, shift: f64, bias: f64, seed: u64) -> (Vec<f64>, Vec<u8>) {
    let mut r = Rng::new(seed);
    let z: Vec<f64> = (0..n).map(|_| -2.3 + shift + 1.1 * r.normal()).collect();
    let y = z.iter().map(|&z| u8::from(r.chance(sigmoid(z)))).collect();
    (z.iter().map(|&z| sigmoid(z + bias)).collect(), y)
}

fn csv(path: &Path, p: &[f64], y: Option<&[u8]>) {
    let mut s = String::from("probability,defaulted\n");
    for (i, q) in p.iter().enumerate() {
        let _ = writeln!(s, "{q:?},{}", y.map_or(String::new(), |y| y[i].to_string()));
    }
    std::fs::write(path, s).unwrap();
}

fn each(m: &Metrics) -> [(&'static str, f64); 6] {
    [
        ("roc_auc", m.roc_auc),
        ("true_positive", m.true_positive),
        ("false_positive", m.false_positive),
        ("false_negative", m.false_negative),
        ("true_negative", m.true_negative),
        ("cost", m.cost),
    ]
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= tol * b.abs().max(1.0)
}

#[test]
fn cbpe_equals_nannyml() {
    let Some(python) =
        riskscore_testkit::oracle("RISKSCORE_NANNYML_PYTHON", "a Python with nannyml 0.13.1")
    else {
        return;
    };
    // A calibrated reference, one whose check finds the isotonic fit no better (the first
    // such seed, by a margin of 10 %, so the order of tied probabilities cannot flip it), and
    // one off by one in log-odds whose check must ask for the recalibration.
    let declined = (20..80)
        .map(|seed| draw(3000, 0.0, seed))
        .find(|(p, y)| {
            let c = needs_calibration(p, y);
            c.ece_after > 1.1 * c.ece_before
        })
        .expect("a calibrated reference the check declines");
    let cases = [
        ("calibrated", draw(3000, 0.0, 1), draw(4100, 0.6, 2)),
        ("declined", declined, draw(4100, 0.6, 3)),
        (
            "miscalibrated",
            miscalibrated(3000, 0.0, 1.0, 8),
            miscalibrated(4100, 0.6, 1.0, 9),
        ),
    ];
    for (case, (rp, ry), (ap, ay)) in cases {
        compare_with_nannyml(&python, case, (rp, ry), (ap, ay));
    }
}

fn compare_with_nannyml(
    python: &Path,
    case: &str,
    (rp, ry): (Vec<f64>, Vec<u8>),
    (ap, ay): (Vec<f64>, Vec<u8>),
) {
    let dir = tempfile::tempdir().unwrap();
    // Analysis: a shifted population (more risk), labelled; then the same without labels.
    let (reference, analysis, blind) = (
        dir.path().join("reference.csv"),
        dir.path().join("analysis.csv"),
        dir.path().join("blind.csv"),
    );
    csv(&reference, &rp, Some(&ry));
    csv(&analysis, &ap, Some(&ay));
    csv(&blind, &ap, None);
    let threshold = 0.12;
    let check = needs_calibration(&rp, &ry);
    eprintln!("{case}: {check:?}");
    assert_eq!(check.needed, case != "declined", "{case}: {check:?}");
    if case == "miscalibrated" {
        assert!(check.needed, "{case}: {check:?}");
        assert!(
            check.ece_after < check.ece_before / 2.0,
            "{case}: {check:?}"
        );
    }
    let splits = stratified_shuffle_split(&ry, 10, 0.1, 42).unwrap();
    let cbpe = Cbpe::fit(&Reference::new(rp, ry), threshold, COST, 500);
    assert_eq!(cbpe.calibration, check);
    let labels: Vec<Option<u8>> = ay.iter().map(|&t| Some(t)).collect();
    let ours = cbpe.estimate(&ap, Some(&labels));
    assert_eq!(
        ours.len(),
        9,
        "4,100 rows in chunks of 500: 8 full and one of 100"
    );
    for (file, labelled) in [(&analysis, true), (&blind, false)] {
        let script = riskscore_testkit::script("cbpe_oracle.py");
        let out = riskscore_testkit::run_python(
            python,
            &[
                &script,
                &reference,
                file,
                Path::new("--threshold"),
                Path::new("0.12"),
                Path::new("--chunk-size"),
                Path::new("500"),
                Path::new("--cost"),
                Path::new("10,1,0,0"),
                Path::new("--splits"),
            ],
        );
        let mut objects = out
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str::<Value>(l).unwrap());
        let head = objects.next().expect("the calibration check's line");
        assert_eq!(
            head["needs_calibration"].as_bool(),
            Some(check.needed),
            "{case}: NannyML's calibration check against ours {check:?}"
        );
        let their_tests: Vec<Vec<usize>> =
            serde_json::from_value(head["split_tests"].clone()).expect("the split's test indices");
        let our_tests: Vec<Vec<usize>> = splits.iter().map(|(_, t)| t.clone()).collect();
        assert_eq!(our_tests, their_tests, "{case}: scikit-learn's splits");
        let theirs: Vec<Value> = objects.collect();
        assert_eq!(theirs.len(), ours.len());
        for (c, t) in ours.iter().zip(&theirs) {
            assert_eq!(t["start"].as_u64().unwrap() as usize, c.start);
            assert_eq!(t["n"].as_u64().unwrap() as usize, c.end - c.start);
            let se = each(&c.sampling_error);
            for (k, (name, value)) in each(&c.estimated).into_iter().enumerate() {
                let o = &t[name];
                let v = o["value"].as_f64().unwrap_or(f64::NAN);
                assert!(
                    close(value, v, 1e-6),
                    "{case} chunk {}: {name} {value} vs NannyML {v}",
                    c.start
                );
                let s = o["sampling_error"].as_f64().unwrap();
                assert!(
                    close(se[k].1, s, 1e-9),
                    "{case} chunk {}: {name} error {} vs {s}",
                    c.start,
                    se[k].1
                );
                if name != "cost" {
                    let band = cbpe.bands[k];
                    assert!(
                        close(band.lower, o["lower"].as_f64().unwrap(), 1e-9),
                        "{name} lower"
                    );
                    assert!(
                        close(band.upper, o["upper"].as_f64().unwrap(), 1e-9),
                        "{name} upper"
                    );
                    assert_eq!(
                        c.alerts.iter().any(|a| a == name),
                        o["alert"].as_bool().unwrap(),
                        "{case} chunk {}: {name} alert",
                        c.start
                    );
                }
                if labelled {
                    let r = each(c.realized.as_ref().unwrap())[k].1;
                    let theirs = o["realized"].as_f64().unwrap_or(f64::NAN);
                    assert!(
                        close(r, theirs, 1e-9),
                        "{case} chunk {}: realized {name} {r} vs {theirs}",
                        c.start
                    );
                }
            }
        }
    }
}

/// With labels drawn from the probabilities, each chunk's realized AUC and cost fall within a
/// few sampling errors of the estimate; the shifted population's estimated cost is higher.
#[test]
fn estimates_track_realized_figures_when_the_model_is_calibrated() {
    let (rp, ry) = draw(5000, 0.0, 3);
    let (ap, ay) = draw(6000, 0.5, 4);
    let cbpe = Cbpe::fit(&Reference::new(rp.clone(), ry), 0.12, COST, 1000);
    let labels: Vec<Option<u8>> = ay.iter().map(|&t| Some(t)).collect();
    let chunks = cbpe.estimate(&ap, Some(&labels));
    let reference = cbpe.estimate(&rp, None);
    let mean = |c: &[riskscore_model::cbpe::Chunk]| {
        c.iter().map(|c| c.estimated.cost).sum::<f64>() / c.len() as f64
    };
    let (shifted, before) = (mean(&chunks), mean(&reference));
    assert!(
        shifted > before + 0.03,
        "the shift shows in the estimated cost: {shifted} vs {before}"
    );
    for c in &chunks {
        let r = c.realized.unwrap();
        for ((name, e), ((_, s), (_, v))) in each(&c.estimated)
            .into_iter()
            .zip(each(&c.sampling_error).into_iter().zip(each(&r)))
        {
            assert!(
                (e - v).abs() <= 4.0 * s,
                "chunk {}: {name} estimated {e}, realized {v}, error {s}",
                c.start
            );
        }
    }
}

/// A concept shift (the same applicants, defaulting more among the granted) shows in the
/// realized figures and not in the estimate: CBPE reads only the probabilities, so it cannot
/// see a change in how outcomes follow them (the documented limitation).
#[test]
fn a_concept_shift_shows_in_realized_not_in_estimated_figures() {
    let (rp, ry) = draw(5000, 0.0, 5);
    let (ap, _) = draw(5000, 0.0, 6);
    let mut r = Rng::new(7);
    // Labels tripled below the threshold: the model's granted segment now defaults more.
    let shifted: Vec<Option<u8>> = ap
        .iter()
        .map(|&q| {
            Some(u8::from(r.chance(if q < 0.12 {
                (3.0 * q).min(1.0)
            } else {
                q
            })))
        })
        .collect();
    let cbpe = Cbpe::fit(&Reference::new(rp, ry), 0.12, COST, 1000);
    for c in cbpe.estimate(&ap, Some(&shifted)) {
        assert!(
            !c.alerts.iter().any(|a| a == "cost"),
            "the estimate sees nothing: {:?}",
            c.alerts
        );
        let real = c.realized.unwrap();
        assert!(
            real.cost > c.estimated.cost + 4.0 * c.sampling_error.cost,
            "chunk {}: realized cost {} vs estimated {} ± {}",
            c.start,
            real.cost,
            c.estimated.cost,
            c.sampling_error.cost
        );
        assert!(
            real.cost > cbpe.bands[5].upper,
            "the realized cost leaves the band"
        );
    }
}
