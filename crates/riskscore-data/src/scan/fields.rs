//! One field at a cursor: numbers and ids parsed as their digits are met (eight bytes at a
//! time where sixteen remain), skipped fields, the end of a field or line.

use super::MISSING_ID;

// without a branch per digit, where mispredicted loop exits cost most of the parsing time.

pub(super) const ONES: u64 = 0x0101_0101_0101_0101;
pub(super) const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The eight bytes at `pos`, if there are sixteen left (room for a second read).
#[inline]
pub(super) fn word_at(bytes: &[u8], pos: usize) -> Option<u64> {
    let chunk = bytes.get(pos..pos + 16)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(&chunk[..8]);
    Some(u64::from_le_bytes(word))
}

/// How many of the word's bytes, from the first, are ASCII digits.
#[inline]
pub(super) fn digit_run(word: u64) -> u32 {
    let x = word ^ (ONES * u64::from(b'0'));
    // A byte of x above 9 gets its high bit set (carries only disturb bytes after it).
    let non_digit = (x.wrapping_add(ONES * 0x76) | x) & HIGHS;
    non_digit.trailing_zeros() / 8
}

/// The value of the first `k` (< 8) digits of the word.
#[inline]
pub(super) fn digits_value(word: u64, k: u32) -> u64 {
    if k == 0 {
        return 0;
    }
    // Digit values, the first `k` moved to the top so that the rest become leading zeros.
    let mut v = (word & (ONES * 0x0f)) << (8 * (8 - k));
    v = (v * 10 + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    v = (v * 100 + (v >> 16)) & 0x0000_ffff_0000_ffff;
    (v * 10000 + (v >> 32)) & 0xffff_ffff
}

/// See [`number_at_scalar`]; eight bytes at a time, the scalar code near the end of a block
/// and for long numbers. The byte after the field is taken from the words read, not loaded
/// again: the next field's reading waits for fewer loads.
#[inline]
pub(super) fn number_at(bytes: &[u8], pos: usize) -> Option<(f64, usize, u16)> {
    let (Some(first), Some(after_sign)) = (word_at(bytes, pos), word_at(bytes, pos + 1)) else {
        return number_at_scalar(bytes, pos);
    };
    let negative = first as u8 == b'-';
    let word = if negative { after_sign } else { first };
    let p = pos + usize::from(negative);
    let k = digit_run(word);
    if k == 8 {
        return number_at_scalar(bytes, pos);
    }
    let mut mantissa = digits_value(word, k);
    let mut end = p + k as usize;
    let mut decimals = 0;
    let mut stop = (word >> (8 * k)) as u8;
    if stop == b'.' {
        let Some(word) = word_at(bytes, end + 1) else {
            return number_at_scalar(bytes, pos);
        };
        let f = digit_run(word);
        if f == 8 || k + f == 0 {
            return number_at_scalar(bytes, pos);
        }
        let fraction = digits_value(word, f);
        end += 1 + f as usize;
        stop = (word >> (8 * f)) as u8;
        // "-1086.0": an integer, no division.
        if fraction != 0 {
            mantissa = mantissa * POW10_INT[f as usize] + fraction;
            decimals = f as usize;
        }
    } else if k == 0 {
        // Empty, or not a plain number.
        return if !negative && ends(u16::from(stop)) {
            Some((f64::NAN, end, u16::from(stop)))
        } else {
            number_at_scalar(bytes, pos)
        };
    }
    if !ends(u16::from(stop)) {
        return None;
    }
    Some((decimal(mantissa, decimals, negative), end, u16::from(stop)))
}

/// See [`id_at_scalar`]; eight bytes at a time.
#[inline]
pub(super) fn id_at(bytes: &[u8], pos: usize) -> Option<(i64, usize, u16)> {
    let Some(word) = word_at(bytes, pos) else {
        return id_at_scalar(bytes, pos);
    };
    let k = digit_run(word);
    if k == 0 || k == 8 {
        return id_at_scalar(bytes, pos);
    }
    let stop = u16::from((word >> (8 * k)) as u8);
    if !ends(stop) {
        return None;
    }
    Some((digits_value(word, k) as i64, pos + k as usize, stop))
}

/// See [`skip_at_scalar`]; eight bytes at a time. Always inlined: as a call, its result
/// goes through memory on the way to the next field.
///
/// The bytes that end a field and the quote are all below `-`: the bytes below it are found
/// with three operations, then told apart by value (a space or a `+` is stepped over).
#[inline(always)]
pub(super) fn skip_at(bytes: &[u8], mut pos: usize) -> Option<(usize, u16)> {
    const ENDS: u64 = 1 << b',' | 1 << b'\n' | 1 << b'\r' | 1 << b'"';
    while let Some(word) = word_at(bytes, pos) {
        // Bytes below `-` (ASCII): the first is exact, later ones may be false (borrows),
        // which the value check skips.
        let mut low = word.wrapping_sub(ONES * u64::from(b'-')) & !word & HIGHS;
        while low != 0 {
            let k = low.trailing_zeros() / 8;
            let stop = (word >> (8 * k)) as u8;
            if ENDS.checked_shr(u32::from(stop)).unwrap_or(0) & 1 == 1 {
                return (stop != b'"').then_some((pos + k as usize, u16::from(stop)));
            }
            low &= low - 1;
        }
        pos += 8;
    }
    skip_at_scalar(bytes, pos)
}

/// Exact powers of ten as integers.
pub(super) const POW10_INT: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/// A recycled buffer emptied, or a new one.
pub(super) fn emptied<T>(v: Option<Vec<T>>, capacity: usize) -> Vec<T> {
    let mut v = v.unwrap_or_else(|| Vec::with_capacity(capacity));
    v.clear();
    v
}

/// Skips an unquoted field starting at `pos`: where it ends and the byte there (see
/// [`stop_at`]); `None` for a quoted one (read by `field_at`).
#[inline]
pub(super) fn skip_at_scalar(bytes: &[u8], pos: usize) -> Option<(usize, u16)> {
    let mut end = pos;
    while let Some(&b) = bytes.get(end) {
        match b {
            b',' | b'\n' | b'\r' => return Some((end, u16::from(b))),
            b'"' => return None,
            _ => end += 1,
        }
    }
    Some((end, END_OF_BLOCK))
}

/// The byte after a field, [`END_OF_BLOCK`] at the end.
pub(super) const END_OF_BLOCK: u16 = 256;

/// The byte at `end` as a [`stop_at`] value.
#[inline]
pub(super) fn stop_at(bytes: &[u8], end: usize) -> u16 {
    bytes.get(end).map_or(END_OF_BLOCK, |&b| u16::from(b))
}

/// Whether the byte after a field ends it.
#[inline]
pub(super) fn ends(stop: u16) -> bool {
    const COMMA: u16 = b',' as u16;
    const NEWLINE: u16 = b'\n' as u16;
    const RETURN: u16 = b'\r' as u16;
    matches!(stop, END_OF_BLOCK | COMMA | NEWLINE | RETURN)
}

/// The plain number (`-123`, `4567.25`, empty) starting at `pos` and the position after it;
/// `None` for anything else (read again by the general path). At most 15 digits: they are an
/// exact integer, and one division by an exact power of ten rounds correctly (Clinger).
#[inline]
pub(super) fn number_at_scalar(bytes: &[u8], pos: usize) -> Option<(f64, usize, u16)> {
    let negative = bytes.get(pos) == Some(&b'-');
    let (mut mantissa, mut count, mut end) = digits_scalar(bytes, pos + usize::from(negative), 0);
    let mut decimals = 0;
    if bytes.get(end) == Some(&b'.') {
        let whole = count;
        (mantissa, count, end) = digits_scalar(bytes, end + 1, mantissa);
        count += whole;
        decimals = count - whole;
    }
    let stop = stop_at(bytes, end);
    if !ends(stop) {
        return None;
    }
    if count == 0 {
        return (end == pos).then_some((f64::NAN, end, stop));
    }
    if count > 15 {
        return None;
    }
    Some((decimal(mantissa, decimals, negative), end, stop))
}

/// The plain integer id (or empty) starting at `pos` and the position after it.
#[inline]
pub(super) fn id_at_scalar(bytes: &[u8], pos: usize) -> Option<(i64, usize, u16)> {
    let negative = bytes.get(pos) == Some(&b'-');
    let (v, count, end) = digits_scalar(bytes, pos + usize::from(negative), 0);
    let stop = stop_at(bytes, end);
    if !ends(stop) || count > 18 {
        return None;
    }
    if count == 0 {
        return (end == pos).then_some((MISSING_ID, end, stop));
    }
    // At most 18 digits: no overflow.
    let v = v as i64;
    Some((if negative { -v } else { v }, end, stop))
}

/// The digits from `pos` on, one at a time, appended to `value`: the value, how many digits
/// and where they end.
#[inline]
pub(super) fn digits_scalar(bytes: &[u8], mut pos: usize, mut value: u64) -> (u64, usize, usize) {
    let mut count = 0;
    while let Some(&b) = bytes.get(pos) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        value = value.wrapping_mul(10).wrapping_add(u64::from(d));
        count += 1;
        pos += 1;
    }
    (value, count, pos)
}

/// `mantissa / 10^decimals`, negated if `negative`: with at most 15 digits the mantissa is an
/// exact double and one division by an exact power of ten rounds correctly (Clinger).
#[inline]
pub(super) fn decimal(mantissa: u64, decimals: usize, negative: bool) -> f64 {
    let m = mantissa as i64 as f64;
    let v = if decimals == 0 {
        m
    } else {
        m / POW10[decimals]
    };
    if negative {
        -v
    } else {
        v
    }
}

/// Any field starting at `pos`: the range of its bytes and the position after it. A quoted
/// field is unescaped into `unquoted` and given as an empty range (its text is there).
pub(super) fn field_at(
    bytes: &[u8],
    pos: usize,
    unquoted: &mut Vec<u8>,
) -> Option<(std::ops::Range<usize>, usize)> {
    if bytes.get(pos) != Some(&b'"') {
        let mut end = pos;
        while let Some(&b) = bytes.get(end) {
            match b {
                b',' | b'\n' | b'\r' => break,
                b'"' => return None,
                _ => end += 1,
            }
        }
        return Some((pos..end, end));
    }
    unquoted.clear();
    let mut i = pos + 1;
    loop {
        let q = i + memchr::memchr(b'"', &bytes[i..])?;
        unquoted.extend_from_slice(&bytes[i..q]);
        if bytes.get(q + 1) == Some(&b'"') {
            unquoted.push(b'"');
            i = q + 2;
        } else {
            return Some((pos..pos, q + 1));
        }
    }
}

/// Exact powers of ten (all below 2^53).
pub(super) const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

#[inline]
pub(super) fn parse_number(field: &[u8]) -> Option<f64> {
    if field.is_empty() {
        return Some(f64::NAN);
    }
    // Fast path for the common "-123" and "4567.25": at most 15 digits, so the digits are an
    // exact integer and one division by an exact power of ten rounds correctly (Clinger).
    let (negative, digits) = match field {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, field),
    };
    let mut mantissa: u64 = 0;
    let mut count = 0;
    let mut decimals = 0;
    let mut dot = false;
    let mut simple = !digits.is_empty() && digits.len() <= 16;
    if simple {
        for &b in digits {
            let d = b.wrapping_sub(b'0');
            if d <= 9 {
                mantissa = mantissa * 10 + u64::from(d);
                count += 1;
                decimals += usize::from(dot);
            } else if b == b'.' && !dot {
                dot = true;
            } else {
                simple = false;
                break;
            }
        }
    }
    if simple && count > 0 && count <= 15 {
        return Some(decimal(mantissa, decimals, negative));
    }
    slow_number(field)
}

#[cold]
pub(super) fn slow_number(field: &[u8]) -> Option<f64> {
    match fast_float2::parse::<f64, _>(field) {
        Ok(v) => Some(v),
        Err(_) => std::str::from_utf8(field).ok()?.parse().ok(),
    }
}

pub(super) fn parse_id(field: &[u8]) -> Option<i64> {
    if field.is_empty() {
        return Some(MISSING_ID);
    }
    let (negative, digits) = match field.first() {
        Some(b'-') => (true, &field[1..]),
        Some(b'+') => (false, &field[1..]),
        _ => (false, field),
    };
    if digits.is_empty() || digits.len() > 18 {
        return std::str::from_utf8(field).ok()?.parse().ok();
    }
    let mut v: i64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(if negative { -v } else { v })
}
