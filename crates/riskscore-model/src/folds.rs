//! Stratified K-fold assignment: each class is shuffled with the seed and dealt round-robin, so
//! every fold has the same share of defaulters (within one row) and fold sizes differ by at most
//! one per class.

use riskscore_data::synth::rng::{seed_of, Rng};

/// The fold (0..k) of every row.
pub fn stratified(y: &[u8], k: usize, seed: u64) -> Vec<u8> {
    let mut fold = vec![0u8; y.len()];
    let mut offset = 0;
    for class in [0u8, 1u8] {
        let mut idx: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class).collect();
        shuffle(&mut idx, seed_of(&[seed, class as u64]));
        for (pos, &i) in idx.iter().enumerate() {
            fold[i] = ((pos + offset) % k) as u8;
        }
        // The positives start where the negatives stopped, so totals stay balanced too.
        offset = (offset + idx.len()) % k;
    }
    fold
}

/// Fisher-Yates with the project's deterministic generator.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = Rng::new(seed);
    for i in (1..items.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// Share of a training fold kept aside to stop boosting early: the rounds are chosen on rows the
/// booster neither trains on nor is scored on.
pub const STOP_SHARE: f64 = 0.15;

/// Splits training rows `rows` into the rows a booster fits on and the rows that stop it early
/// ([`STOP_SHARE`] of each class, at least one of each class when the class has two or more
/// rows), shuffled with `seed`. Both lists keep the order of `rows`.
pub fn stopping_split(rows: &[usize], y: &[u8], seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut stop = vec![false; rows.len()];
    for class in [0u8, 1u8] {
        let mut pos: Vec<usize> = (0..rows.len()).filter(|&p| y[rows[p]] == class).collect();
        shuffle(&mut pos, seed_of(&[seed, 7, class as u64]));
        let n = pos.len();
        let take = if n < 2 {
            0
        } else {
            ((n as f64 * STOP_SHARE).round() as usize).clamp(1, n - 1)
        };
        for &p in &pos[..take] {
            stop[p] = true;
        }
    }
    let mut fit = Vec::with_capacity(rows.len());
    let mut held = Vec::new();
    for (p, &i) in rows.iter().enumerate() {
        if stop[p] {
            held.push(i);
        } else {
            fit.push(i);
        }
    }
    (fit, held)
}

/// The training and validation rows of fold `f`.
pub fn split(folds: &[u8], f: u8) -> (Vec<usize>, Vec<usize>) {
    let mut train = Vec::new();
    let mut valid = Vec::new();
    for (i, &g) in folds.iter().enumerate() {
        if g == f {
            valid.push(i);
        } else {
            train.push(i);
        }
    }
    (train, valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_keep_the_class_ratio_and_sizes() {
        // 1,000 rows, 83 positives, 5 folds: each fold gets 16 or 17 positives and 200 rows.
        let y: Vec<u8> = (0..1000).map(|i| u8::from(i % 12 == 0)).collect();
        let pos = y.iter().filter(|&&v| v == 1).count();
        assert_eq!(pos, 84);
        let folds = stratified(&y, 5, 7);
        for f in 0..5u8 {
            let (_, valid) = split(&folds, f);
            let p = valid.iter().filter(|&&i| y[i] == 1).count();
            assert!((16..=17).contains(&p), "fold {f}: {p} positives");
            assert_eq!(valid.len(), 200, "fold {f}");
        }
    }

    #[test]
    fn the_stopping_rows_are_a_stratified_share_of_the_training_rows() {
        let y: Vec<u8> = (0..1000).map(|i| u8::from(i % 10 == 0)).collect();
        let folds = stratified(&y, 5, 3);
        let (train, valid) = split(&folds, 0);
        let (fit, stop) = stopping_split(&train, &y, 9);
        assert_eq!(fit.len() + stop.len(), train.len());
        assert!(stop.iter().all(|i| !valid.contains(i) && !fit.contains(i)));
        assert_eq!(stop.len(), 120);
        assert_eq!(stop.iter().filter(|&&i| y[i] == 1).count(), 12);
        assert!(fit.windows(2).all(|w| w[0] < w[1]));
        // A class of one row stays in the fitting rows.
        let (fit, stop) = stopping_split(&[0, 1, 2], &[1, 0, 0], 1);
        assert_eq!((fit.len(), stop.len()), (2, 1));
        assert_eq!(stop.iter().filter(|&&i| i == 0).count(), 0);
    }

    #[test]
    fn folds_depend_on_the_seed_only() {
        let y: Vec<u8> = (0..500).map(|i| u8::from(i % 7 == 0)).collect();
        assert_eq!(stratified(&y, 5, 1), stratified(&y, 5, 1));
        assert_ne!(stratified(&y, 5, 1), stratified(&y, 5, 2));
    }
}
