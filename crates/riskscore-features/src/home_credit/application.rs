//! The application table: its own columns, the kernel's ratios, categories one-hot encoded.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) fn application(
    source: &dyn TableSource,
    vocab: &mut VocabMode,
    out: &mut dyn Out,
) -> Result<Applicants> {
    let columns = Table::ApplicationTrain.columns();
    let n_cols = columns.len();
    let mut ids: Vec<i64> = Vec::new();
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); n_cols];
    let mut codes: Vec<Vec<u32>> = vec![Vec::new(); n_cols];
    let mut dicts: Vec<Dict> = (0..n_cols).map(|_| Dict::default()).collect();
    for table in [Table::ApplicationTrain, Table::ApplicationTest] {
        let names: Vec<&str> = table.columns().iter().map(|(n, _)| *n).collect();
        let before = ids.len();
        let present = scan(source, table, &names, |batch| {
            for (j, (name, kind)) in columns.iter().enumerate() {
                let Some(i) = names.iter().position(|n| n == name) else {
                    values[j].extend(std::iter::repeat_n(f64::NAN, batch.rows)); // TARGET of test
                    continue;
                };
                match kind {
                    riskscore_data::Kind::Id => ids.extend_from_slice(batch.ids(i)),
                    riskscore_data::Kind::Num => values[j].extend_from_slice(batch.nums(i)),
                    riskscore_data::Kind::Cat => {
                        let (c, dict) = batch.cats(i);
                        let map = dicts[j].remap(dict);
                        codes[j].extend(c.iter().map(|&c| {
                            if c == MISSING_CAT {
                                MISSING_CAT
                            } else {
                                map[c as usize]
                            }
                        }));
                    }
                }
            }
        })?;
        if !present && table == Table::ApplicationTrain && matches!(vocab, VocabMode::Fit(_)) {
            return Err(Error::Invalid(
                "fitting the features needs the application_train table (the applicants with \
                 their TARGET); a folder of application_test alone is scored with a fitted \
                 pipeline (riskscore predict, serve, features --pipeline)"
                    .into(),
            ));
        }
        unique_keys(table, KEY, &ids[before..])?;
    }
    // Every applicant is kept: the kernel drops CODE_GENDER = 'XNA' rows, but no applicant
    // goes unscored for a protected value (see docs/fair-lending.md).
    let kept_rows: Vec<usize> = (0..ids.len()).collect();
    let mut row = KeyIndex::for_keys(&ids);
    for &id in &ids {
        row.insert(id, NO_GROUP);
    }
    for (k, &r) in kept_rows.iter().enumerate() {
        row.insert(ids[r], k as u32);
    }

    let mut dummies: Vec<Column> = Vec::new();
    let mut width = 0;
    for (j, (name, kind)) in columns.iter().enumerate() {
        let column = match kind {
            riskscore_data::Kind::Id => {
                let v: Vec<i64> = kept_rows.iter().map(|&r| ids[r]).collect();
                Int64Chunked::from_vec((*name).into(), v).into_column()
            }
            riskscore_data::Kind::Num => {
                let v = &values[j];
                let employed = *name == "DAYS_EMPLOYED";
                let mut column = out.buffer(kept_rows.len());
                column.extend(kept_rows.iter().map(|&r| {
                    if employed && v[r] == DAYS_MISSING_CODE {
                        f64::NAN
                    } else {
                        v[r]
                    }
                }));
                out.push_floats(name, column)?;
                width += 1;
                continue;
            }
            riskscore_data::Kind::Cat => {
                // The vocabulary is learned on every application row.
                let mut seen = vec![false; dicts[j].values.len()];
                for &r in &kept_rows {
                    if let Some(s) = seen.get_mut(codes[j][r] as usize) {
                        *s = true;
                    }
                }
                let seen: Vec<String> = dicts[j]
                    .values
                    .iter()
                    .zip(&seen)
                    .filter(|(_, s)| **s)
                    .map(|(v, _)| v.clone())
                    .collect();
                let values = vocab.resolve("application", name, sorted(seen))?;
                // The table-wide code of each vocabulary entry.
                let of: Vec<Option<u32>> = values.iter().map(|v| dicts[j].code(v)).collect();
                if BINARY_FLAGS.contains(name) {
                    // pandas factorize(sort=True): the index in the vocabulary, -1 if missing.
                    let v: Vec<i32> = kept_rows
                        .iter()
                        .map(|&r| {
                            of.iter()
                                .position(|c| *c == Some(codes[j][r]))
                                .map_or(-1, |i| i as i32)
                        })
                        .collect();
                    Int32Chunked::from_vec((*name).into(), v).into_column()
                } else {
                    for (value, code) in values.iter().zip(&of) {
                        let v: Vec<i32> = kept_rows
                            .iter()
                            .map(|&r| i32::from(Some(codes[j][r]) == *code))
                            .collect();
                        // The vector becomes the column (no copy).
                        let name = crate::exprs::dummy_name(name, value);
                        dummies.push(Int32Chunked::from_vec(name.into(), v).into_column());
                    }
                    if !values.is_empty() {
                        continue;
                    }
                    // pandas reads an all-empty column as numbers and keeps it, all missing.
                    float_column(name, vec![f64::NAN; kept_rows.len()])
                }
            }
        };
        out.push(column)?;
        width += 1;
    }
    for d in dummies {
        out.push(d)?;
        width += 1;
    }
    let col_of = |name: &str| {
        columns
            .iter()
            .position(|(n, _)| *n == name)
            .map(|j| &values[j])
    };
    let empty = Vec::new();
    let get = |name: &str| col_of(name).unwrap_or(&empty);
    // The kernel's ratios; DAYS_EMPLOYED's "not employed" code reads as missing.
    for (name, [a_column, b_column]) in crate::protect::KERNEL_RATIOS {
        let (a, b) = (get(a_column), get(b_column));
        let at = |v: &Vec<f64>, r: usize| v.get(r).copied().unwrap_or(f64::NAN);
        let mut column = out.buffer(kept_rows.len());
        column.extend(
            kept_rows
                .iter()
                .map(|&r| crate::protect::kernel_ratio(a_column, at(a, r), at(b, r))),
        );
        out.push_floats(name, column)?;
        width += 1;
    }
    log_part(source, "application", kept_rows.len(), width);
    Ok(Applicants {
        row,
        kept: kept_rows.len(),
    })
}
