//! Fast CSV row formatting: numbers are written by hand (no `format!`), since full scale is
//! about 2.6 GB of text.

/// A value of one CSV field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Missing,
    Num(f64),
    Cat(&'static str),
}

/// Appends fields to a line buffer.
#[derive(Debug)]
pub struct Line<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Line<'a> {
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        Line { buf, first: true }
    }

    fn sep(&mut self) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
    }

    pub fn int(&mut self, v: i64) -> &mut Self {
        self.sep();
        write_int(self.buf, v);
        self
    }

    /// A number with at most `decimals` decimals; `decimals == 0` writes an integer, otherwise
    /// at least one decimal is written (`135000.0`), as in the Kaggle files.
    pub fn num(&mut self, v: f64, decimals: u8) -> &mut Self {
        self.sep();
        write_num(self.buf, v, decimals);
        self
    }

    pub fn value(&mut self, v: Value, decimals: u8) -> &mut Self {
        match v {
            Value::Missing => {
                self.sep();
                self
            }
            Value::Num(x) => self.num(x, decimals),
            Value::Cat(s) => self.text(s),
        }
    }

    pub fn text(&mut self, s: &str) -> &mut Self {
        self.sep();
        if s.contains([',', '"', '\n']) {
            self.buf.push(b'"');
            self.buf
                .extend_from_slice(s.replace('"', "\"\"").as_bytes());
            self.buf.push(b'"');
        } else {
            self.buf.extend_from_slice(s.as_bytes());
        }
        self
    }

    pub fn end(&mut self) {
        self.buf.push(b'\n');
    }
}

pub fn write_int(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    let mut n = v.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

const POW10: [f64; 7] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6];

pub fn write_num(buf: &mut Vec<u8>, v: f64, decimals: u8) {
    let decimals = usize::from(decimals.min(6));
    if decimals == 0 {
        write_int(buf, v.round() as i64);
        return;
    }
    let scale = POW10[decimals];
    let scaled = (v.abs() * scale).round() as u64;
    if v < 0.0 && scaled != 0 {
        buf.push(b'-');
    }
    let int_part = scaled / scale as u64;
    let mut frac = scaled % scale as u64;
    write_int(buf, int_part as i64);
    buf.push(b'.');
    let mut digits = [b'0'; 6];
    for d in digits[..decimals].iter_mut().rev() {
        *d = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    let mut end = decimals;
    while end > 1 && digits[end - 1] == b'0' {
        end -= 1;
    }
    buf.extend_from_slice(&digits[..end]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: f64, d: u8) -> String {
        let mut b = Vec::new();
        write_num(&mut b, v, d);
        String::from_utf8(b).unwrap_or_default()
    }

    #[test]
    fn numbers_look_like_kaggle() {
        assert_eq!(num(135000.0, 1), "135000.0");
        assert_eq!(num(24700.5, 3), "24700.5");
        assert_eq!(num(-637.0, 0), "-637");
        assert_eq!(num(0.018801, 6), "0.018801");
        assert_eq!(num(-0.0000001, 6), "0.0");
        assert_eq!(num(-2.25, 2), "-2.25");
        assert_eq!(num(365243.0, 0), "365243");
    }

    #[test]
    fn text_with_comma_is_quoted() {
        let mut b = Vec::new();
        Line::new(&mut b)
            .text("Stone, brick")
            .int(3)
            .value(Value::Missing, 1)
            .end();
        assert_eq!(b, b"\"Stone, brick\",3,\n");
    }
}
