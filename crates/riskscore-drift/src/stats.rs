//! The statistics behind the drift tests, computed as SciPy and NumPy compute them (the
//! functions Evidently calls): two-sample Kolmogorov-Smirnov with SciPy's exact p-value,
//! chi-square and normal tail probabilities, the 1-Wasserstein distance, NumPy's Sturges
//! histogram, the Jensen-Shannon distance and the population stability index.

/// Two-sample Kolmogorov-Smirnov on sorted samples: the statistic D and its two-sided p-value.
/// Like `scipy.stats.ks_2samp(method="auto")`: exact when both samples have at most 10,000
/// values, else (or when the exact sum fails) SciPy's "asymp" mode, the one-sample
/// Kolmogorov distribution `kstwo.sf(D, round(n1 n2 / (n1 + n2)))`.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return (f64::NAN, f64::NAN);
    }
    // The largest gap between the two empirical CDFs, evaluated after each distinct value.
    let (mut i, mut j) = (0usize, 0usize);
    let mut d: f64 = 0.0;
    while i < n1 || j < n2 {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        while i < n1 && a[i] <= v {
            i += 1;
        }
        while j < n2 && b[j] <= v {
            j += 1;
        }
        let gap = (i as f64 / n1 as f64 - j as f64 / n2 as f64).abs();
        d = d.max(gap);
    }
    if n1.max(n2) <= 10_000 {
        if let Some((d_exact, p)) = ks_exact(n1 as u64, n2 as u64, d) {
            return (d_exact, p.clamp(0.0, 1.0));
        }
    }
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = (m * n / (m + n)).round_ties_even();
    (d, kolmogn_sf(en as u64, d))
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// SciPy's `_attempt_exact_2kssamp` (two-sided): D rounded to the lattice of the two sample
/// sizes, then the exact tail probability; `None` when it is not a probability.
fn ks_exact(n1: u64, n2: u64, d: f64) -> Option<(f64, f64)> {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    let d = h as f64 / lcm as f64;
    if h == 0 {
        return Some((d, 1.0));
    }
    let p = if n1 == n2 {
        prob_outside_square(n1, h)
    } else {
        outer_prob_inside(n1, n2, g, h)
    };
    (p.is_finite() && (0.0..=1.0).contains(&p)).then_some((d, p))
}

/// Pr(D_{n,n} >= h/n), by a Horner-like sum of ratios of binomial coefficients.
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let mut p = 0.0;
    let mut k = (n / h) as i64;
    while k >= 0 {
        let kh = k as f64 * h as f64;
        let mut p1 = 1.0;
        for j in 0..h {
            let j = j as f64;
            p1 = (n as f64 - kh - j) * p1 / (n as f64 + kh + j + 1.0);
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// The share of lattice paths from (0, 0) to (m, n) that leave the band
/// |x/m - y/n| < h / lcm(m, n), computed directly as 1 - p (Hodges' inside method with
/// Viehmann's recursion), one sliding column at a time.
fn outer_prob_inside(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = ((m / g) as i64, (n / g) as i64);
    let (n, h) = (n as i64, h as i64);
    let ceil_div = |a: i64, b: i64| (a as f64 / b as f64).ceil() as i64;
    let floor_div = |a: i64, b: i64| (a as f64 / b as f64).floor() as i64;
    let mut minj: i64 = 0;
    let mut maxj: i64 = ceil_div(h, mg).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a.max(1)];
    for v in a.iter_mut().take(maxj as usize) {
        *v = 0.0;
    }
    for i in 1..=(m as i64) {
        let (lastminj, lastlen) = (minj, curlen);
        minj = (floor_div(ng * i - h, mg) + 1).max(0).min(n);
        maxj = ceil_div(ng * i + h, mg).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = (jj + minj) as f64;
            let fi = i as f64;
            val = (a[(jj + minj - lastminj) as usize] * fi + val * j) / (fi + j);
            a[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let from = (maxj - minj) as usize;
            let to = (from + (lastlen - curlen) as usize).min(a.len());
            for v in &mut a[from..to] {
                *v = 1.0;
            }
        }
    }
    a[(maxj - minj - 1) as usize]
}

/// `scipy.stats.kstwo.sf(x, n)`: Pr(D_n > x) for the two-sided one-sample Kolmogorov
/// statistic, with SciPy's choice of method by region (Simard and L'Ecuyer 2011, as in
/// `scipy/stats/_ksstats.py::_kolmogn`): Ruben-Gambino near the ends, twice Smirnov's
/// one-sided tail where it is exact or accurate, Durbin's matrix (Marsaglia-Tsang-Wang) and
/// the Pelz-Good expansion in between. Where SciPy uses Pomeranz's recursion (n <= 140,
/// 0.754693 < n x^2 <= 4) this uses Durbin's matrix: both are exact.
pub fn kolmogn_sf(n: u64, x: f64) -> f64 {
    let clip = |p: f64| p.clamp(0.0, 1.0);
    if n == 0 || x.is_nan() {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        let cdf = if n <= 140 {
            (1..=n).fold(1.0, |p, i| p * (i as f64 * (1.0 / nf) * (2.0 * t - 1.0)))
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return clip(1.0 - cdf);
    }
    if t >= nf - 1.0 {
        return clip(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        return clip(2.0 * smirnov(n, x));
    }
    let nx2 = t * x;
    if n <= 140 {
        if nx2 <= 4.0 {
            return clip(1.0 - durbin_cdf(n, x));
        }
        return clip(2.0 * smirnov(n, x));
    }
    if nx2 >= 370.0 {
        return 0.0;
    }
    if nx2 >= 2.2 {
        return clip(2.0 * smirnov(n, x));
    }
    let cdf = if nx2 >= 18.0 {
        1.0
    } else if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_cdf(n, x)
    } else {
        pelz_good_cdf(nf, x)
    };
    clip(1.0 - cdf)
}

/// ln(n! / n^n) by Stirling's series (SciPy's `_log_nfactorial_div_n_pow_n`).
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    // SciPy's coefficients as written.
    #[allow(clippy::excessive_precision)]
    const C: [f64; 8] = [
        -2.955_065_359_477_124_183e-2,
        6.410_256_410_256_410_256_4e-3,
        -1.917_526_917_526_917_526_9e-3,
        8.417_508_417_508_417_508_4e-4,
        -5.952_380_952_380_952_381e-4,
        7.936_507_936_507_936_507_9e-4,
        -2.777_777_777_777_777_777_8e-3,
        8.333_333_333_333_333_333_3e-2,
    ];
    let rn = 1.0 / n;
    let poly = C.iter().fold(0.0, |acc, c| acc * (rn / n) + c);
    n.ln() / 2.0 - n + (2.0 * std::f64::consts::PI).ln() / 2.0 + rn * poly
}

/// `x * 2^e` without overflowing the power.
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e as i32)
}

/// Smirnov's one-sided tail Pr(D+_n >= x), exact (Birnbaum-Tingey):
/// x * sum_{j <= n(1-x)} C(n, j) (1 - x - j/n)^(n-j) (x + j/n)^(j-1), in logs (all terms are
/// positive).
pub fn smirnov(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x >= 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let last = (nf * (1.0 - x)).floor() as u64;
    // ln C(n, j) by running sums of logs.
    let mut ln_c = 0.0;
    let mut sum = 0.0;
    for j in 0..=last.min(n) {
        if j > 0 {
            ln_c += ((n - j + 1) as f64).ln() - (j as f64).ln();
        }
        let jf = j as f64;
        let a = 1.0 - x - jf / nf;
        if a <= 0.0 {
            continue;
        }
        let b = x + jf / nf;
        sum += (ln_c + (nf - jf) * a.ln() + (jf - 1.0) * b.ln()).exp();
    }
    x * sum
}

/// Pr(D_n <= d) by Durbin's matrix method as Marsaglia, Tsang and Wang compute it (SciPy's
/// `_kolmogn_DMTW`): the (k, k) entry of H^n times n!/n^n, with H scaled by 2^128 steps.
fn durbin_cdf(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let nd = nf * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut hm = vec![0.0f64; m * m];
    let mut v: Vec<f64> = (1..=m).map(|i| 1.0 - h.powi(i as i32)).collect();
    let mut w = vec![0.0f64; m];
    let mut fac = 1.0;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;
    // H[i-1:, i] = w[:m-i+1] for i in 1..m; H[:, 0] = v; H[-1, :] = reversed v.
    for i in 1..m {
        for (r, wv) in (i - 1..m).zip(&w[..m - i + 1]) {
            hm[r * m + i] = *wv;
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
    }
    for c in 0..m {
        hm[(m - 1) * m + c] = v[m - 1 - c];
    }
    let matmul = |a: &[f64], b: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0f64; m * m];
        for i in 0..m {
            for l in 0..m {
                let x = a[i * m + l];
                if x == 0.0 {
                    continue;
                }
                for j in 0..m {
                    out[i * m + j] += x * b[l * m + j];
                }
            }
        }
        out
    };
    const E128: i64 = 128;
    let ep128 = 2f64.powi(128);
    let em128 = 2f64.powi(-128);
    let mut power: Vec<f64> = (0..m * m)
        .map(|i| if i / m == i % m { 1.0 } else { 0.0 })
        .collect();
    let (mut nn, mut expnt, mut h_expnt) = (n, 0i64, 0i64);
    while nn > 0 {
        if nn % 2 == 1 {
            power = matmul(&power, &hm);
            expnt += h_expnt;
        }
        hm = matmul(&hm, &hm);
        h_expnt *= 2;
        if hm[(k - 1) * m + (k - 1)].abs() > ep128 {
            for x in &mut hm {
                *x /= ep128;
            }
            h_expnt += E128;
        }
        nn /= 2;
    }
    let mut p = power[(k - 1) * m + (k - 1)];
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < em128 {
            p *= ep128;
            expnt -= E128;
        }
    }
    if expnt != 0 {
        p = ldexp(p, expnt);
    }
    p.clamp(0.0, 1.0)
}

/// The Pelz-Good expansion of Pr(D_n <= x) (SciPy's `_kolmogn_PelzGood`).
fn pelz_good_cdf(n: f64, x: f64) -> f64 {
    use std::f64::consts::PI;
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let (pi2, pi4, pi6) = (PI * PI, PI.powi(4), PI.powi(6));
    let sqrt2pi = (2.0 * PI).sqrt();
    let z = n.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -pi2 / 8.0 / z2;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let (k1a, k1b) = (-z2, pi2 / 4.0);
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let mut k = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for kk in (1..=maxk).rev() {
        let m = (2 * kk - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf(8.0 * kk as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (a, c) in k.iter_mut().zip(coeffs) {
            *a = *a * qpower + c;
        }
    }
    let div = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (a, d) in k.iter_mut().zip(div) {
        *a = *a * q * sqrt2pi / d;
    }
    let q = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    for kk in (1..=maxk).rev() {
        let ks = kk as f64;
        let ks2 = ks * ks;
        let qp = q.powf(ks2);
        k2extra += ks2 * qp;
        let kspi = PI * ks;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qp;
    }
    k[2] += k2extra * pi2 * sqrt2pi / (-36.0 * z3);
    k[3] += k3extra * pi2 * sqrt2pi / (216.0 * z6);
    k.iter()
        .enumerate()
        .map(|(i, a)| a / n.powf(i as f64 / 2.0))
        .sum()
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error about 1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut s = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        s += c / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
}

/// The regularised upper incomplete gamma function Q(a, x).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x.is_nan() || a <= 0.0 {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let lead = -x + a * x.ln() - ln_gamma(a);
    if x < a + 1.0 {
        // Series for P, then Q = 1 - P.
        let (mut ap, mut sum, mut del) = (a, 1.0 / a, 1.0 / a);
        for _ in 0..10_000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        1.0 - sum * lead.exp()
    } else {
        // Continued fraction (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-17 {
                break;
            }
        }
        lead.exp() * h
    }
}

/// Pr(chi-square with `dof` degrees of freedom >= `stat`).
pub fn chi2_sf(stat: f64, dof: f64) -> f64 {
    if stat == f64::INFINITY {
        return 0.0;
    }
    gamma_q(dof / 2.0, stat / 2.0)
}

/// `scipy.stats.chisquare(f_obs, f_exp)`'s p-value.
pub fn chisquare_p(observed: &[f64], expected: &[f64]) -> f64 {
    let stat: f64 = observed
        .iter()
        .zip(expected)
        .map(|(o, e)| (o - e) * (o - e) / e)
        .sum();
    chi2_sf(stat, observed.len() as f64 - 1.0)
}

/// erfc(x) for x >= 0, as Q(1/2, x^2).
pub fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    gamma_q(0.5, x * x)
}

/// Evidently's Z-test for two proportions (`proportions_diff_z_test`, two-sided): `ones` of
/// `n` in each sample.
pub fn z_test_p(ones1: f64, n1: f64, ones2: f64, n2: f64) -> f64 {
    let (p1, p2) = (ones1 / n1, ones2 / n2);
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// `scipy.stats.wasserstein_distance` of two sorted samples: the area between their CDFs.
pub fn wasserstein(u: &[f64], v: &[f64]) -> f64 {
    // Both are sorted: merge them.
    let mut all: Vec<f64> = Vec::with_capacity(u.len() + v.len());
    let (mut a, mut b) = (0usize, 0usize);
    while a < u.len() || b < v.len() {
        if b >= v.len() || (a < u.len() && u[a] <= v[b]) {
            all.push(u[a]);
            a += 1;
        } else {
            all.push(v[b]);
            b += 1;
        }
    }
    let (nu, nv) = (u.len() as f64, v.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut total = 0.0;
    for w in all.windows(2) {
        let x = w[0];
        while i < u.len() && u[i] <= x {
            i += 1;
        }
        while j < v.len() && v[j] <= x {
            j += 1;
        }
        total += (i as f64 / nu - j as f64 / nv).abs() * (w[1] - w[0]);
    }
    total
}

/// NumPy's `np.std` (population standard deviation).
pub fn std_pop(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt()
}

/// NumPy's `histogram_bin_edges(data, bins="sturges")` for data spanning [min, max] with `n`
/// values.
pub fn sturges_edges(min: f64, max: f64, n: usize) -> Vec<f64> {
    let (mut first, mut last) = (min, max);
    let span = max - min;
    let width = span / ((n as f64).log2() + 1.0);
    let bins = if !span.is_finite() {
        // A span beyond the largest double (values near ±1.8e308): Sturges' count itself.
        ((n as f64).log2() + 1.0).ceil() as usize
    } else if width > 0.0 {
        (span / width).ceil() as usize
    } else {
        1
    }
    .max(1);
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    // np.linspace(first, last, bins + 1); on the widest spans, interpolated without overflow.
    let step = (last - first) / bins as f64;
    let mut edges: Vec<f64> = if step.is_finite() {
        (0..=bins).map(|i| i as f64 * step + first).collect()
    } else {
        (0..=bins)
            .map(|i| {
                let t = i as f64 / bins as f64;
                first * (1.0 - t) + last * t
            })
            .collect()
    };
    if let Some(e) = edges.last_mut() {
        *e = last;
    }
    edges
}

/// NumPy's `np.histogram(x, edges)` counts for equal-width edges (the last bin is closed).
pub fn histogram(x: &[f64], edges: &[f64]) -> Vec<f64> {
    let nb = edges.len().saturating_sub(1);
    if nb == 0 {
        return Vec::new();
    }
    let (first, last) = (edges[0], edges[nb]);
    let denom = last - first;
    let mut counts = vec![0.0; nb];
    for &v in x {
        if !(v >= first && v <= last) {
            continue;
        }
        // NaN (an infinite span) casts to 0, beyond the last bin to the last.
        let mut k = (((v - first) / denom * nb as f64) as usize).min(nb - 1);
        if k > 0 && v < edges[k] {
            k -= 1;
        } else if k + 1 < nb && v >= edges[k + 1] {
            k += 1;
        }
        counts[k] += 1.0;
    }
    counts
}

/// `scipy.spatial.distance.jensenshannon(p, q)` (natural log): both normalised to sum 1.
pub fn jensenshannon(p: &[f64], q: &[f64]) -> f64 {
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    let rel_entr = |x: f64, y: f64| {
        if x > 0.0 && y > 0.0 {
            x * (x / y).ln()
        } else if x == 0.0 && y >= 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    };
    let (mut left, mut right) = (0.0, 0.0);
    for (&a, &b) in p.iter().zip(q) {
        let (a, b) = (a / sp, b / sq);
        let m = (a + b) / 2.0;
        left += rel_entr(a, m);
        right += rel_entr(b, m);
    }
    ((left + right) / 2.0).sqrt()
}

/// Evidently's zero filling before PSI: empty buckets get a small share (a millionth of the
/// smallest non-zero share when that is at most 0.0001, else 0.0001).
pub fn fill_zeroes(shares: &mut [f64]) {
    let min = shares
        .iter()
        .copied()
        .filter(|&s| s != 0.0)
        .fold(f64::INFINITY, f64::min);
    if !min.is_finite() {
        return;
    }
    let fill = if min <= 0.0001 { min / 1e6 } else { 0.0001 };
    for s in shares.iter_mut().filter(|s| **s == 0.0) {
        *s = fill;
    }
}

/// Population stability index of two share vectors (zero-filled first).
pub fn psi(reference: &[f64], current: &[f64]) -> f64 {
    let (mut r, mut c) = (reference.to_vec(), current.to_vec());
    fill_zeroes(&mut r);
    fill_zeroes(&mut c);
    r.iter()
        .zip(&c)
        .map(|(&a, &b)| (a - b) * (a / b).ln())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn gamma_and_tails_match_known_values() {
        // Γ(5) = 24, Γ(0.5) = √π.
        assert!(close(ln_gamma(5.0), 24f64.ln(), 1e-13));
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-13
        ));
        // chi2.sf(3.84145882, 1) = 0.05; chi2.sf(10, 4) = 0.040427681994512805.
        assert!(close(chi2_sf(3.841_458_820_694_124, 1.0), 0.05, 1e-12));
        assert!(close(chi2_sf(10.0, 4.0), 0.040_427_681_994_512_805, 1e-13));
        // erfc(1) = 0.15729920705028513.
        assert!(close(erfc(1.0), 0.157_299_207_050_285_13, 1e-14));
    }

    #[test]
    fn ks_matches_hand_computed_cases() {
        // Identical samples: D = 0, p = 1.
        let a = [1.0, 2.0, 3.0];
        assert_eq!(ks_2samp(&a, &a), (0.0, 1.0));
        // Disjoint samples of 3 and 3: D = 1, p = 2 / C(6, 3) = 0.1.
        let (d, p) = ks_2samp(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
        assert_eq!(d, 1.0);
        assert!(close(p, 0.1, 1e-15), "{p}");
        // Disjoint samples of 2 and 4: D = 1, p = 2 / C(6, 2) = 2/15.
        let (d, p) = ks_2samp(&[1.0, 2.0], &[3.0, 4.0, 5.0, 6.0]);
        assert_eq!(d, 1.0);
        assert!(close(p, 2.0 / 15.0, 1e-15), "{p}");
    }

    /// `scipy.stats.kstwo.sf(x, n)` and `scipy.special.smirnov(n, x)` of SciPy 1.16 (in
    /// `.venv-evidently`), one or more per region of SciPy's method choice.
    #[test]
    fn kolmogorov_tail_matches_scipy_in_every_region() {
        let cases = [
            (293, 0.002, 1.0),                     // n x <= 0.5
            (293, 0.01, 0.999_999_999_999_999_7),  // Durbin's matrix
            (293, 0.02, 0.999_672_529_922_428_4),  // Pelz-Good
            (293, 0.05, 0.442_180_960_100_056_5),  // Pelz-Good
            (293, 0.08, 0.044_459_451_997_838_52), // Pelz-Good
            (293, 0.1, 0.005_287_940_113_728_86),  // 2 x Smirnov
            (293, 0.3, 6.979_004_499_271_413e-24),
            (293, 0.6, 2.157_362_778_278_678_5e-101), // x >= 0.5
            (128, 0.005, 1.0),
            (128, 0.05, 0.890_125_143_912_473_2), // n <= 140: Durbin's matrix
            (128, 0.1, 0.144_385_099_441_448_17), // SciPy: Pomeranz
            (128, 0.15, 0.005_591_571_749_875_485_5),
            (128, 0.2, 5.791_258_174_919_807_3e-5), // 2 x Smirnov
            (128, 0.3, 1.031_752_517_726_294_6e-10),
            (952, 0.03, 0.351_373_300_664_116),
            (952, 0.045, 0.041_035_719_005_384_386),
            (5000, 0.02, 0.036_139_413_953_256_37),
            (293, 0.9985, 0.0), // n x >= n - 1
        ];
        for (n, x, want) in cases {
            let got = kolmogn_sf(n, x);
            assert!(
                (got - want).abs() <= 1e-12 + 1e-9 * want,
                "kstwo.sf({x}, {n}): {got} vs SciPy {want}"
            );
        }
        assert!(close(smirnov(293, 0.1), 0.002_643_970_056_864_43, 1e-12));
        assert!(close(smirnov(50, 0.6), 4.817_035_228_071_187e-18, 1e-9));
    }

    #[test]
    fn wasserstein_is_the_area_between_cdfs() {
        // Shifting a sample by 2 moves it by 2.
        assert!(close(
            wasserstein(&[0.0, 1.0, 2.0], &[2.0, 3.0, 4.0]),
            2.0,
            1e-15
        ));
        assert!(close(wasserstein(&[0.0], &[0.0, 1.0]), 0.5, 1e-15));
    }

    #[test]
    fn sturges_histogram_like_numpy() {
        // 8 values on [0, 7]: log2(8) + 1 = 4 bins of width 1.75.
        let edges = sturges_edges(0.0, 7.0, 8);
        assert_eq!(edges, vec![0.0, 1.75, 3.5, 5.25, 7.0]);
        let c = histogram(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], &edges);
        assert_eq!(c, vec![2.0, 2.0, 2.0, 2.0]);
    }

    /// Schemathesis' finding: applications with amounts near the largest double made the
    /// journal's drift panic (an index below zero in the histogram).
    #[test]
    fn the_widest_spans_are_binned_without_overflow() {
        let x = [-1.7e308, -1.0, 0.0, 3.0, 1.7e308, f64::INFINITY];
        let edges = sturges_edges(-1.7e308, 1.7e308, x.len());
        assert!(edges.len() >= 2);
        assert!(edges.iter().all(|e| e.is_finite()));
        assert!(edges.windows(2).all(|w| w[0] < w[1]), "{edges:?}");
        let counts = histogram(&x, &edges);
        assert_eq!(counts.len(), edges.len() - 1);
        assert_eq!(
            counts.iter().sum::<f64>(),
            5.0,
            "every finite value counted once"
        );
        let edges = sturges_edges(0.0, f64::INFINITY, 4);
        let counts = histogram(&[0.0, 1.0, f64::INFINITY], &edges);
        assert!(counts.iter().sum::<f64>() <= 3.0);
        assert!(histogram(&[1.0], &[0.0]).is_empty());
    }

    #[test]
    fn psi_and_js_are_zero_for_equal_shares() {
        let s = [0.2, 0.3, 0.5];
        assert_eq!(psi(&s, &s), 0.0);
        assert_eq!(jensenshannon(&s, &s), 0.0);
        // PSI of (0.5, 0.5) vs (0.25, 0.75): 0.25 ln 2 + 0.25 ln 1.5.
        let v = psi(&[0.5, 0.5], &[0.25, 0.75]);
        assert!(close(v, 0.25 * 2f64.ln() + 0.25 * 1.5f64.ln(), 1e-15));
    }
}
