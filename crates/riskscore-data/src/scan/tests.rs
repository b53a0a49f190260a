//! The parser against hand-written blocks: quoting, line ends, numbers as the standard
//! library reads them, category codes, refusals.

use super::codes::*;
use super::fields::*;
use super::parse::*;
use super::*;

fn layout(kinds: &[Option<Kind>]) -> Layout {
    let mut out = 0;
    let slots = kinds
        .iter()
        .map(|k| {
            k.map(|kind| {
                out += 1;
                Wanted { out: out - 1, kind }
            })
        })
        .collect();
    Layout { slots, width: out }
}

#[test]
fn quoted_fields_empty_fields_and_crlf() {
    let l = layout(&[Some(Kind::Id), None, Some(Kind::Cat), Some(Kind::Num)]);
    let text = b"1,x,\"Spouse, partner\",2.5\r\n2,\"a\"\"b\",,\n3,,\"say \"\"hi\"\"\",\"\"\n";
    let b = parse_block(text, &l, None).expect("parses");
    assert_eq!(b.rows, 3);
    assert_eq!(b.ids(0), [1, 2, 3]);
    let (codes, dict) = b.cats(1);
    assert_eq!(codes, [0, MISSING_CAT, 1]);
    assert_eq!(dict, ["Spouse, partner", "say \"hi\""]);
    let n = b.nums(2);
    assert_eq!(n[0], 2.5);
    assert!(n[1].is_nan() && n[2].is_nan());
}

#[test]
fn numbers_parse_as_the_standard_library_does() {
    for text in [
        "0",
        "-0",
        "1",
        "-1234",
        "135000.0",
        "24700.5",
        "0.1",
        "-0.000123",
        "1.5e3",
        "1e-7",
        "123456789012345",
        "1234567890123456789",
        "0.30000000000000004",
        "9007199254740993",
        ".5",
        "5.",
        "nan",
        "inf",
        "-inf",
        "2.2250738585072014e-308",
    ] {
        let want: f64 = text.parse().expect(text);
        let got = parse_number(text.as_bytes()).expect(text);
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "{text}: {got} vs {want}"
        );
        // The cursor's fast path agrees, or declines.
        let line = format!("{text},");
        if let Some((fast, end, _)) = number_at(line.as_bytes(), 0) {
            assert_eq!(end, text.len(), "{text}");
            assert!(
                fast.to_bits() == want.to_bits() || (fast.is_nan() && want.is_nan()),
                "{text}: {fast} vs {want}"
            );
        }
    }
    for bad in ["-", ".", "1.2.3", "1-2", "abc", "1,5", " 1"] {
        assert!(parse_number(bad.as_bytes()).is_none(), "{bad}");
    }
}

#[test]
fn eight_bytes_at_a_time_agrees_with_byte_by_byte() {
    // Fields of every shape the fast path meets, each followed by each terminator and by
    // enough bytes for the eight-byte reads (and, last, by too few).
    let mut fields: Vec<String> = [
        "",
        "-",
        ".",
        "-.",
        "0",
        "-0",
        "7",
        "12345678",
        "123456789",
        "1234567",
        "-1234567",
        "0.5",
        "5.",
        ".5",
        "-.5",
        "12.3456789",
        "1234567.1234567",
        "99999999.9",
        "1e5",
        "1.5e3",
        "nan",
        "inf",
        "12a",
        "1.2.3",
        "--1",
        "007",
        "0.00000001",
        "1086.0",
        "-1086.0",
        "0.0",
        "-0.0",
        "100",
        "1.000",
        "10.10",
        "7002.470",
        "123456789012.50",
        "12345678901234.5",
        "123456789012345.0",
        "\"3\"",
        "1,2",
        "4\r\n",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut seed: u64 = 42;
    for _ in 0..2000 {
        let mut f = String::new();
        for _ in 0..(seed % 14) {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            f.push(b"0123456789.-x, +(\"\r\n"[(seed >> 33) as usize % 20] as char);
        }
        fields.push(f);
    }
    for field in &fields {
        for tail in [
            ",0000000000000000",
            "\n0000000000000000",
            "\r\n000000000000000",
            "",
        ] {
            let line = format!("{field}{tail}");
            let b = line.as_bytes();
            let same = |x: Option<(f64, usize, u16)>, y: Option<(f64, usize, u16)>| match (x, y) {
                (Some((a, i, s)), Some((c, j, t))) => {
                    i == j && s == t && (a.to_bits() == c.to_bits() || (a.is_nan() && c.is_nan()))
                }
                (None, None) => true,
                _ => false,
            };
            assert!(
                same(number_at(b, 0), number_at_scalar(b, 0)),
                "number {line:?}: {:?} vs {:?}",
                number_at(b, 0),
                number_at_scalar(b, 0)
            );
            assert_eq!(id_at(b, 0), id_at_scalar(b, 0), "id {line:?}");
            assert_eq!(skip_at(b, 0), skip_at_scalar(b, 0), "skip {line:?}");
        }
    }
}

#[test]
fn last_line_without_newline_and_empty_lines() {
    let l = layout(&[Some(Kind::Id), Some(Kind::Num)]);
    let b = parse_block(b"1,2\n\n3,\r\n4,5", &l, None).expect("parses");
    assert_eq!(b.ids(0), [1, 3, 4]);
    let b = parse_block(b"1,\"2\"\n3,\"4\"", &l, None).expect("parses");
    assert_eq!(b.nums(1), [2.0, 4.0]);
}

#[test]
fn short_category_values_are_told_apart_by_their_keys() {
    let mut codes = Codes::default();
    let values: [&[u8]; 7] = [b"C", b"X", b"0", b"C ", b"Active", b"Activ", b"Signed"];
    let got: Vec<u32> = values
        .iter()
        .chain(values.iter())
        .map(|v| codes.code(v).expect("utf-8"))
        .collect();
    assert_eq!(got, [0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6]);
}

#[test]
fn keys_read_in_the_block_are_the_keys_of_the_values() {
    // Values of every length up to 20, read in place (words of the block) and copied.
    let values: Vec<String> = (1..=20)
        .flat_map(|n| ["abcdefghijklmnopqrst", "ABCDEFGHIJKLMNOPQRST"].map(|v| v[..n].to_string()))
        .collect();
    let text = values.join(",") + ",";
    let bytes = text.as_bytes();
    let (mut in_place, mut copied) = (Codes::default(), Codes::default());
    for _ in 0..2 {
        let mut start = 0;
        for v in &values {
            let end = start + v.len();
            assert_eq!(
                in_place.code_at(bytes, start, end),
                copied.code(v.as_bytes()),
                "{v}"
            );
            start = end + 1;
        }
    }
    assert_eq!(in_place.values, values);
}

#[test]
fn category_codes_survive_fingerprint_collisions() {
    let mut codes = Codes::default();
    // Same length, first and last eight bytes: one fingerprint, two values.
    let a = b"ABCDEFGH-one-IJKLMNOP".to_vec();
    let b = b"ABCDEFGH-two-IJKLMNOP".to_vec();
    assert_eq!(fingerprint(key_of(&a)), fingerprint(key_of(&b)));
    let got: Vec<u32> = [&a, &b, &a, &b, &b]
        .iter()
        .map(|v| codes.code(v).expect("utf-8"))
        .collect();
    assert_eq!(got, [0, 1, 0, 1, 1]);
    assert_eq!(
        codes.values,
        ["ABCDEFGH-one-IJKLMNOP", "ABCDEFGH-two-IJKLMNOP"]
    );
    assert!(codes.code(b"\xE1x").is_none());
}

#[test]
fn bad_values_and_ragged_lines_are_refused() {
    let l = layout(&[Some(Kind::Id), Some(Kind::Num)]);
    assert!(parse_block(b"1,2\n2,x\n", &l, None).is_none());
    assert!(parse_block(b"1,2\n2,3,4\n", &l, None).is_none());
    assert!(parse_block(b"1.5,2\n", &l, None).is_none());
    assert!(parse_block(b"1,\"2\n", &l, None).is_none());
    let ok = parse_block(b"-7,1e3\n+8,-0.25\n", &l, None).expect("parses");
    assert_eq!(ok.ids(0), [-7, 8]);
    assert_eq!(ok.nums(1), [1000.0, -0.25]);
}
