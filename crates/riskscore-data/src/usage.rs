//! CPU time of this process, for progress logs that say where a long run spends its time.

/// User plus system CPU seconds used so far by this process (all threads), read from
/// `/proc/self/stat`; `None` where that file does not exist.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// A formatted `cpu_seconds()` for logs ("?" when unknown).
pub fn cpu_label() -> String {
    cpu_seconds().map_or_else(|| "?".into(), |s| format!("{s:.1}"))
}

/// Resident and peak resident memory of this process in MB ("?" when unknown), from
/// `/proc/self/status`.
pub fn memory_label() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return "?".into();
    };
    let field = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or_else(|| "?".to_owned(), |kb| format!("{:.0}", kb / 1024.0))
    };
    format!("{} MB (peak {} MB)", field("VmRSS:"), field("VmHWM:"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_grows() {
        let Some(before) = super::cpu_seconds() else {
            return;
        };
        let mut x = 0u64;
        for i in 0..30_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        let after = super::cpu_seconds().unwrap_or(0.0);
        assert!(after >= before);
    }
}
