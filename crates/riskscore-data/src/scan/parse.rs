//! A block of whole lines parsed into a batch, one pass with a cursor.

use super::codes::Codes;
use super::fields::*;
use super::{Batch, Layout, Values, MISSING_CAT};
use crate::schema::Kind;

/// What to do with a field of the file: skip it or append it to the k-th column of its type.
#[derive(Debug, Clone, Copy)]
pub(super) enum Action {
    Skip,
    Num(usize),
    Id(usize),
    Cat(usize),
}

/// Parses a block of whole lines; `None` when a line does not fit (the caller diagnoses).
///
/// One pass with a cursor: a number or id asked for is parsed as its digits are met, a field
/// not asked for is skipped to its comma, a quoted field is read to its closing quote.
pub(super) fn parse_block(bytes: &[u8], layout: &Layout, recycled: Option<Batch>) -> Option<Batch> {
    let rows_hint = bytes.len() / 32 + 1;
    let mut old: Vec<Option<Values>> = recycled
        .map(|b| b.columns.into_iter().map(Some).collect())
        .unwrap_or_default();
    let mut reuse = |out: usize| old.get_mut(out).and_then(Option::take);
    let mut nums: Vec<Vec<f64>> = Vec::new();
    let mut ids: Vec<Vec<i64>> = Vec::new();
    let mut cats: Vec<(Vec<u32>, Codes)> = Vec::new();
    // Per output column: its type and index among the columns of that type.
    let mut outputs: Vec<Action> = vec![Action::Skip; layout.width];
    let mut actions: Vec<Action> = Vec::with_capacity(layout.slots.len());
    for slot in &layout.slots {
        let action = match slot {
            None => Action::Skip,
            Some(w) => {
                let reused = reuse(w.out);
                let action = match w.kind {
                    Kind::Num => {
                        let v = match reused {
                            Some(Values::Nums(v)) => Some(v),
                            _ => None,
                        };
                        nums.push(emptied(v, rows_hint));
                        Action::Num(nums.len() - 1)
                    }
                    Kind::Id => {
                        let v = match reused {
                            Some(Values::Ids(v)) => Some(v),
                            _ => None,
                        };
                        ids.push(emptied(v, rows_hint));
                        Action::Id(ids.len() - 1)
                    }
                    Kind::Cat => {
                        let v = match reused {
                            Some(Values::Cats(v)) => Some(v),
                            _ => None,
                        };
                        cats.push((emptied(v, rows_hint), Codes::default()));
                        Action::Cat(cats.len() - 1)
                    }
                };
                outputs[w.out] = action;
                action
            }
        };
        actions.push(action);
    }
    let last = actions.len().checked_sub(1)?;
    let mut rows = 0;
    let mut pos = 0;
    let mut unquoted: Vec<u8> = Vec::new();
    while pos < bytes.len() {
        match &bytes[pos..] {
            [b'\n', ..] => {
                pos += 1; // an empty line
                continue;
            }
            [b'\r', b'\n', ..] => {
                pos += 2;
                continue;
            }
            _ => {}
        }
        for (f, action) in actions.iter().enumerate() {
            // Where the field ends and the byte there.
            let fast = match *action {
                Action::Num(k) => number_at(bytes, pos).map(|(x, end, stop)| {
                    nums[k].push(x);
                    (end, stop)
                }),
                Action::Id(k) => id_at(bytes, pos).map(|(x, end, stop)| {
                    ids[k].push(x);
                    (end, stop)
                }),
                Action::Skip => skip_at(bytes, pos),
                Action::Cat(k) => match skip_at(bytes, pos) {
                    Some((end, stop)) if end > pos => {
                        let (v, codes) = &mut cats[k];
                        v.push(codes.code_at(bytes, pos, end)?);
                        Some((end, stop))
                    }
                    _ => None,
                },
            };
            let (end, stop) = match fast {
                Some(found) => found,
                None => {
                    let (field, end) = field_at(bytes, pos, &mut unquoted)?;
                    let field = if field.is_empty() && end > pos {
                        &unquoted[..]
                    } else {
                        &bytes[field]
                    };
                    match *action {
                        Action::Skip => {}
                        Action::Num(k) => nums[k].push(parse_number(field)?),
                        Action::Id(k) => ids[k].push(parse_id(field)?),
                        Action::Cat(k) => {
                            let (v, codes) = &mut cats[k];
                            v.push(if field.is_empty() {
                                MISSING_CAT
                            } else {
                                codes.code(field)?
                            });
                        }
                    }
                    (end, stop_at(bytes, end))
                }
            };
            pos = end + 1;
            if f < last {
                if stop != u16::from(b',') {
                    return None;
                }
            } else if stop == u16::from(b'\r') && bytes.get(pos) == Some(&b'\n') {
                pos += 1;
            } else if stop == END_OF_BLOCK {
                pos = end;
            } else if stop != u16::from(b'\n') {
                return None;
            }
        }
        rows += 1;
    }
    let mut nums: Vec<Option<Vec<f64>>> = nums.into_iter().map(Some).collect();
    let mut ids: Vec<Option<Vec<i64>>> = ids.into_iter().map(Some).collect();
    let mut cats: Vec<Option<(Vec<u32>, Codes)>> = cats.into_iter().map(Some).collect();
    let mut batch = Batch {
        rows,
        ..Batch::default()
    };
    for action in outputs {
        let (values, dictionary) = match action {
            Action::Num(k) => (Values::Nums(nums[k].take()?), Vec::new()),
            Action::Id(k) => (Values::Ids(ids[k].take()?), Vec::new()),
            Action::Cat(k) => {
                let (v, codes) = cats[k].take()?;
                (Values::Cats(v), codes.values)
            }
            Action::Skip => (Values::Nums(Vec::new()), Vec::new()),
        };
        batch.columns.push(values);
        batch.dictionaries.push(dictionary);
    }
    Some(batch)
}

// Eight bytes at a time (SWAR): the length of a run of digits and its value are computed
