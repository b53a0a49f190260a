//! Category codes: a field's bytes to its code in the batch's dictionary, by a fingerprint of
//! its first and last bytes and its length, with the recent values remembered.

use std::collections::HashMap;

use super::fields::word_at;

/// Hashes a u64 fingerprint with one multiplication.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Spread(u64);

impl std::hash::Hasher for Spread {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 31)
    }
}

/// A category value's length and its first and last eight bytes (zero-padded): equal keys
/// mean equal values up to 16 bytes, longer values are also compared in full.
#[inline]
pub(super) fn key_of(field: &[u8]) -> (u64, u64, usize) {
    let n = field.len();
    let mut head = [0u8; 8];
    let mut tail = [0u8; 8];
    if n >= 8 {
        head.copy_from_slice(&field[..8]);
        tail.copy_from_slice(&field[n - 8..]);
    } else {
        head[..n].copy_from_slice(field);
    }
    (u64::from_le_bytes(head), u64::from_le_bytes(tail), n)
}

/// A hash of a key (the map's hasher then spreads it).
#[inline]
pub(super) fn fingerprint((head, tail, n): (u64, u64, usize)) -> u64 {
    head ^ tail.rotate_left(29) ^ ((n as u64) << 56)
}

/// The categories of a column within one block: value to code, in order of appearance.
pub(super) struct Codes {
    /// Fingerprint to code; values whose fingerprint is taken by another value go to `others`.
    pub(super) map: HashMap<u64, u32, std::hash::BuildHasherDefault<Spread>>,
    pub(super) others: HashMap<Vec<u8>, u32>,
    pub(super) values: Vec<String>,
    pub(super) keys: Vec<(u64, u64, usize)>,
    /// The code of the previous field: runs of one value are common.
    pub(super) last: Option<u32>,
    /// A code per fingerprint's top bits, checked against the key (a column has few values:
    /// most lookups end here, without hashing).
    pub(super) recent: [u32; RECENT],
}

pub(super) const RECENT: usize = 64;

impl Default for Codes {
    fn default() -> Codes {
        Codes {
            map: HashMap::default(),
            others: HashMap::new(),
            values: Vec::new(),
            keys: Vec::new(),
            last: None,
            recent: [u32::MAX; RECENT],
        }
    }
}

impl Codes {
    /// Whether value `code` is `field` (whose key is `key`).
    #[inline]
    pub(super) fn is(&self, code: u32, key: (u64, u64, usize), field: &[u8]) -> bool {
        self.keys[code as usize] == key
            && (key.2 <= 16 || self.values[code as usize].as_bytes() == field)
    }

    #[inline]
    pub(super) fn code(&mut self, field: &[u8]) -> Option<u32> {
        self.code_keyed(field, key_of(field))
    }

    /// The code of `bytes[start..end]`, its key read from the block's words where there are
    /// sixteen bytes left (no copy).
    #[inline]
    pub(super) fn code_at(&mut self, bytes: &[u8], start: usize, end: usize) -> Option<u32> {
        let field = bytes.get(start..end)?;
        let n = end - start;
        let key = match (word_at(bytes, start), n) {
            (Some(head), 1..=7) => (head & ((1u64 << (8 * n)) - 1), 0, n),
            (Some(head), 8) => (head, head, n),
            (Some(head), 9..=16) => match word_at(bytes, end - 8) {
                Some(tail) => (head, tail, n),
                None => key_of(field),
            },
            _ => key_of(field),
        };
        self.code_keyed(field, key)
    }

    #[inline]
    pub(super) fn code_keyed(&mut self, field: &[u8], key: (u64, u64, usize)) -> Option<u32> {
        if let Some(last) = self.last {
            if self.is(last, key, field) {
                return Some(last);
            }
        }
        let print = fingerprint(key);
        let slot = (print.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize;
        let recent = self.recent[slot];
        if recent != u32::MAX && self.is(recent, key, field) {
            self.last = Some(recent);
            return Some(recent);
        }
        let code = match self.map.get(&print) {
            Some(&code) if self.is(code, key, field) => code,
            Some(_) => match self.others.get(field) {
                Some(&code) => code,
                None => {
                    let code = self.add(field, key)?;
                    self.others.insert(field.to_vec(), code);
                    code
                }
            },
            None => {
                let code = self.add(field, key)?;
                self.map.insert(print, code);
                code
            }
        };
        self.recent[slot] = code;
        self.last = Some(code);
        Some(code)
    }

    /// A new value (it must be UTF-8).
    pub(super) fn add(&mut self, field: &[u8], key: (u64, u64, usize)) -> Option<u32> {
        let text = std::str::from_utf8(field).ok()?;
        self.values.push(text.to_owned());
        self.keys.push(key);
        Some(self.values.len() as u32 - 1)
    }
}
