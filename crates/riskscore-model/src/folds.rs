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
    fn folds_depend_on_the_seed_only() {
        let y: Vec<u8> = (0..500).map(|i| u8::from(i % 7 == 0)).collect();
        assert_eq!(stratified(&y, 5, 1), stratified(&y, 5, 1));
        assert_ne!(stratified(&y, 5, 1), stratified(&y, 5, 2));
    }
}
