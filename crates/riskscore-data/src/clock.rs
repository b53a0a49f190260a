//! The calendar date and time of an instant in UTC, for timestamps written as text (the
//! decision journal, MLflow model metadata).

use std::time::{SystemTime, UNIX_EPOCH};

/// An instant in UTC, split into calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub micros: u32,
}

impl Utc {
    pub fn now() -> Utc {
        Utc::at(SystemTime::now())
    }

    /// The fields of `t` (instants before 1970 read as 1970-01-01).
    pub fn at(t: SystemTime) -> Utc {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = d.as_secs() as i64;
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Utc {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
            micros: d.subsec_micros(),
        }
    }

    /// Seconds since 1970-01-01 of the fields (the inverse of [`Utc::at`], without the
    /// microseconds): days from the civil date (Howard Hinnant's algorithm).
    pub fn unix_seconds(&self) -> i64 {
        let y = if self.month <= 2 {
            self.year - 1
        } else {
            self.year
        };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = if self.month > 2 {
            self.month - 3
        } else {
            self.month + 9
        };
        let doy = (153 * mp + 2) / 5 + self.day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        ((days * 24 + self.hour) * 60 + self.minute) * 60 + self.second
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fields_go_back_to_the_instant() {
        for secs in [0, 951_782_400 + 3_723, 1_798_761_600, 4_102_444_799] {
            let t = Utc::at(UNIX_EPOCH + Duration::from_secs(secs));
            assert_eq!(t.unix_seconds(), secs as i64, "{t:?}");
        }
    }

    #[test]
    fn known_instants() {
        let t = UNIX_EPOCH + Duration::from_micros(951_782_400_000_000 + 3_723_000_004);
        // 2000-02-29 01:02:03.000004 (a leap day).
        assert_eq!(
            Utc::at(t),
            Utc {
                year: 2000,
                month: 2,
                day: 29,
                hour: 1,
                minute: 2,
                second: 3,
                micros: 4
            }
        );
        assert_eq!(Utc::at(UNIX_EPOCH).year, 1970);
    }
}
