//! Inline SVG charts: lines (curves, with optional vertical markers) and horizontal bars.

use std::fmt::Write;

use crate::{esc, PALETTE};

const W: f64 = 520.0;
const H: f64 = 340.0;
const L: f64 = 62.0;
const R: f64 = 16.0;
const T: f64 = 30.0;
const B: f64 = 48.0;

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
    /// Draw points as dots instead of a line.
    pub dots: bool,
}

impl Series {
    pub fn line(name: &str, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.to_string(),
            points,
            dashed: false,
            dots: false,
        }
    }

    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }

    pub fn dots(mut self) -> Self {
        self.dots = true;
        self
    }
}

#[derive(Debug, Clone)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Vertical lines with a label, e.g. the chosen threshold.
    pub markers: Vec<(f64, String)>,
    /// Fixed axis ranges; computed from the data when `None`.
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    /// Text alternative describing what the chart shows.
    pub description: String,
}

impl LineChart {
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        LineChart {
            title: title.to_string(),
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            series: Vec::new(),
            markers: Vec::new(),
            x_range: None,
            y_range: None,
            description: String::new(),
        }
    }

    pub fn svg(&self) -> String {
        let finite = |v: &f64| v.is_finite();
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .filter(finite);
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(finite);
        let (x0, x1) = self.x_range.unwrap_or_else(|| extent(xs));
        let (y0, y1) = self.y_range.unwrap_or_else(|| extent(ys));
        let sx = |x: f64| L + (x - x0) / (x1 - x0).max(1e-300) * (W - L - R);
        let sy = |y: f64| H - B - (y - y0) / (y1 - y0).max(1e-300) * (H - T - B);
        let mut s = open(&self.title, &self.description);
        axes(&mut s, (x0, x1), (y0, y1), &self.x_label, &self.y_label);
        for (i, series) in self.series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let pts: Vec<(f64, f64)> = series
                .points
                .iter()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .map(|&(x, y)| (sx(x), sy(y)))
                .collect();
            if series.dots {
                for (x, y) in &pts {
                    let _ = write!(
                        s,
                        "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{colour}\"/>"
                    );
                }
            } else if !pts.is_empty() {
                let d: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                let dash = if series.dashed {
                    " stroke-dasharray=\"6 4\""
                } else {
                    ""
                };
                let _ = write!(
                    s,
                    "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash} points=\"{}\"/>",
                    d.join(" ")
                );
            }
            let ly = T + 4.0 + 16.0 * i as f64;
            let _ = write!(
                s,
                "<rect x=\"{:.0}\" y=\"{:.0}\" width=\"12\" height=\"4\" fill=\"{colour}\"/>\
<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\">{}</text>",
                W - R - 170.0,
                ly,
                W - R - 154.0,
                ly + 5.0,
                esc(&series.name)
            );
        }
        for (m, (x, label)) in self.markers.iter().enumerate() {
            let px = sx(*x);
            let ty = T + 12.0 + 14.0 * m as f64;
            let _ = write!(
                s,
                "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{T}\" y2=\"{:.1}\" stroke=\"#000\" stroke-dasharray=\"2 3\"/>\
<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{}</text>",
                H - B,
                px + 4.0,
                ty,
                esc(label)
            );
        }
        s.push_str("</svg></figure>");
        s
    }
}

/// Horizontal bars, one per label (e.g. feature importance).
#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    pub value_label: String,
    pub bars: Vec<(String, f64)>,
    pub description: String,
}

impl BarChart {
    pub fn svg(&self) -> String {
        let row = 20.0;
        let label_w = 300.0;
        let h = T + row * self.bars.len() as f64 + B;
        let max = self
            .bars
            .iter()
            .map(|b| b.1.abs())
            .fold(0.0, f64::max)
            .max(1e-300);
        let mut s = format!(
            "<figure><svg role=\"img\" viewBox=\"0 0 {W2} {h:.0}\" width=\"{W2}\" height=\"{h:.0}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title><desc>{}</desc>\
<text x=\"4\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>",
            esc(&self.title),
            esc(&self.description),
            esc(&self.title),
            W2 = W + label_w - L
        );
        let plot_w = W - L - R;
        for (i, (label, v)) in self.bars.iter().enumerate() {
            let y = T + row * i as f64;
            let w = v.abs() / max * plot_w;
            let _ = write!(
                s,
                "<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\" text-anchor=\"end\">{}</text>\
<rect x=\"{label_w:.0}\" y=\"{:.0}\" width=\"{w:.1}\" height=\"{:.0}\" fill=\"{}\"><title>{}: {}</title></rect>",
                label_w - 6.0,
                y + 14.0,
                esc(&truncate(label, 40)),
                y + 3.0,
                row - 6.0,
                PALETTE[0],
                esc(label),
                fmt_tick(*v)
            );
        }
        let _ = write!(
            s,
            "<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\">{}</text></svg>",
            label_w,
            h - 16.0,
            esc(&self.value_label)
        );
        let _ = write!(
            s,
            "<figcaption>{}</figcaption></figure>",
            esc(&self.description)
        );
        s
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn open(title: &str, description: &str) -> String {
    format!(
        "<figure><svg role=\"img\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" xmlns=\"http://www.w3.org/2000/svg\">\
<title>{}</title><desc>{}</desc><text x=\"4\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        esc(title),
        esc(description),
        esc(title)
    ) + ""
}

fn axes(s: &mut String, (x0, x1): (f64, f64), (y0, y1): (f64, f64), xl: &str, yl: &str) {
    let _ = write!(
        s,
        "<rect x=\"{L}\" y=\"{T}\" width=\"{:.0}\" height=\"{:.0}\" fill=\"none\" stroke=\"#888\"/>",
        W - L - R,
        H - T - B
    );
    for i in 0..=4 {
        let f = i as f64 / 4.0;
        let x = L + f * (W - L - R);
        let y = H - B - f * (H - T - B);
        let _ = write!(
            s,
            "<text x=\"{x:.0}\" y=\"{:.0}\" font-size=\"10\" text-anchor=\"middle\">{}</text>\
<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            H - B + 14.0,
            fmt_tick(x0 + f * (x1 - x0)),
            L - 4.0,
            y + 3.0,
            fmt_tick(y0 + f * (y1 - y0))
        );
    }
    let _ = write!(
        s,
        "<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\
<text transform=\"translate(14 {:.0}) rotate(-90)\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
        L + (W - L - R) / 2.0,
        H - 12.0,
        esc(xl),
        T + (H - T - B) / 2.0,
        esc(yl)
    );
}

fn extent(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi <= lo {
        return (lo - 0.5, hi + 0.5);
    }
    (lo, hi)
}

/// Compact tick labels: 3 significant digits.
pub fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_maps_points_into_the_plot() {
        let mut c = LineChart::new("ROC", "FPR", "TPR");
        c.series
            .push(Series::line("model", vec![(0.0, 0.0), (1.0, 1.0)]));
        c.x_range = Some((0.0, 1.0));
        c.y_range = Some((0.0, 1.0));
        let svg = c.svg();
        // (0,0) is the plot's bottom-left corner, (1,1) its top-right.
        assert!(svg.contains(&format!(
            "points=\"{L:.1},{:.1} {:.1},{T:.1}\"",
            H - B,
            W - R
        )));
        assert!(svg.contains("<title>ROC</title>"));
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(fmt_tick(0.08333), "0.083");
        assert_eq!(fmt_tick(12345.0), "12345");
        assert_eq!(fmt_tick(2.5e-5), "2.50e-5");
    }
}
