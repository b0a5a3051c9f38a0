//! Wall-clock rules: UTC interval timestamps and the US/Central calendar ERCOT runs on.
//!
//! Market data is stored in UTC; operating days, 4CP months and peak hours are US/Central.
//! Conversion goes through the IANA time-zone database (`chrono-tz`), never a fixed offset.

use chrono::{Datelike, NaiveDate, TimeZone, Timelike};
use chrono_tz::US::Central;

/// Length of one settlement interval in milliseconds (15 minutes).
pub const INTERVAL_MS: i64 = 15 * 60 * 1000;
/// Settlement intervals in one hour.
pub const INTERVALS_PER_HOUR: usize = 4;
/// Length of one settlement interval in hours.
pub const INTERVAL_HOURS: f64 = 0.25;

/// The US/Central calendar of one instant, as the policy and the 4CP rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalTime {
    /// Local (US/Central) calendar year.
    pub year: i32,
    /// Local month, 1 to 12.
    pub month: u8,
    /// Local day of month, 1 to 31.
    pub day: u8,
    /// Local hour, 0 to 23.
    pub hour: u8,
    /// Local minute, 0 to 59.
    pub minute: u8,
    /// Day of week, 0 = Monday to 6 = Sunday.
    pub weekday: u8,
    /// Day of the local year, 1 to 366.
    pub ordinal: u16,
    /// Local date as days since 1970-01-01 (identifies the operating day).
    pub day_number: i32,
}

impl LocalTime {
    /// True on Monday to Friday.
    pub fn is_weekday(&self) -> bool {
        self.weekday < 5
    }

    /// Minutes since local midnight.
    pub fn minute_of_day(&self) -> u32 {
        self.hour as u32 * 60 + self.minute as u32
    }

    /// Month index that identifies a local month across years (year * 12 + month - 1).
    pub fn month_key(&self) -> i32 {
        self.year * 12 + self.month as i32 - 1
    }
}

/// US/Central calendar of a UTC instant given in milliseconds since the Unix epoch.
pub fn local_time(utc_ms: i64) -> LocalTime {
    let dt = Central
        .timestamp_millis_opt(utc_ms)
        .single()
        .unwrap_or_else(|| {
            // A UTC instant always maps to exactly one local time; this branch is unreachable
            // for in-range timestamps, and out-of-range ones fall back to the epoch.
            Central.timestamp_millis_opt(0).unwrap()
        });
    let date = dt.date_naive();
    LocalTime {
        year: dt.year(),
        month: dt.month() as u8,
        day: dt.day() as u8,
        hour: dt.hour() as u8,
        minute: dt.minute() as u8,
        weekday: dt.weekday().num_days_from_monday() as u8,
        ordinal: dt.ordinal() as u16,
        day_number: (date - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32,
    }
}

/// UTC milliseconds of local (US/Central) midnight starting the given date, or None for an
/// invalid date.
pub fn local_midnight_utc_ms(date: NaiveDate) -> Option<i64> {
    let naive = date.and_hms_opt(0, 0, 0)?;
    // Midnight is never skipped or repeated by US DST rules (they switch at 02:00).
    Central
        .from_local_datetime(&naive)
        .earliest()
        .map(|dt| dt.timestamp_millis())
}

/// Index of the 15-minute interval starting at `utc_ms` within its local (US/Central) day,
/// counted from local midnight (0 to 99: a 25-hour day has 100 intervals).
pub fn interval_of_local_day(utc_ms: i64) -> usize {
    let l = local_time(utc_ms);
    let midnight = NaiveDate::from_ymd_opt(l.year, l.month as u32, l.day as u32)
        .and_then(local_midnight_utc_ms)
        .unwrap_or(utc_ms);
    ((utc_ms - midnight) / INTERVAL_MS).max(0) as usize
}

/// A `START..END` period that does not parse; the message quotes the text and says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("period `{text}`: {reason}")]
pub struct PeriodError {
    /// The period as given.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Parses `YYYY-MM-DD..YYYY-MM-DD` (US/Central dates, end exclusive) into UTC milliseconds.
pub fn parse_period(text: &str) -> Result<(i64, i64), PeriodError> {
    let err = |reason: String| PeriodError {
        text: text.to_string(),
        reason,
    };
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| err("expected START..END, e.g. 2024-01-01..2025-01-01".into()))?;
    let parse = |s: &str| {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|e| err(format!("date `{s}` is not YYYY-MM-DD ({e})")))
    };
    let (start, end) = (parse(a)?, parse(b)?);
    if end <= start {
        return Err(err(format!("end {end} is not after start {start}")));
    }
    let s = local_midnight_utc_ms(start).ok_or_else(|| err("bad start".into()))?;
    let e = local_midnight_utc_ms(end).ok_or_else(|| err("bad end".into()))?;
    Ok((s, e))
}

/// The `START..END` period of whole local days that covers `[start_ms, end_ms)`: START is
/// the local date of `start_ms`, END the local date of `end_ms` (the day after it when
/// `end_ms` is not a local midnight). The inverse of [`parse_period`] on whole days.
pub fn covering_period(start_ms: i64, end_ms: i64) -> String {
    let date = |ms: i64| {
        let l = local_time(ms);
        NaiveDate::from_ymd_opt(l.year, l.month as u32, l.day as u32).unwrap_or(NaiveDate::MIN)
    };
    let (start, mut end) = (date(start_ms), date(end_ms));
    if local_midnight_utc_ms(end) != Some(end_ms) {
        end = end.succ_opt().unwrap_or(end);
    }
    format!("{start}..{end}")
}

/// Formats UTC milliseconds as an RFC 3339 UTC timestamp.
pub fn format_utc(utc_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(utc_ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| format!("{utc_ms}ms"))
}

/// Most local hours in an operating day (25 on the day daylight saving time ends).
pub const DAY_HOURS_MAX: usize = 25;

/// Minute of the local day of the day-ahead gate: offers for D are due at 10:00 on D-1.
pub const DA_GATE_MINUTE: u32 = 10 * 60;

/// True when an interval starting at local time `l` is the day-ahead gate: the decision for
/// it is taken before 10:00 local, when the offers for the next operating day are due.
#[inline]
pub fn is_da_gate_local(l: &LocalTime) -> bool {
    l.minute_of_day() == DA_GATE_MINUTE
}

/// True when an interval starting at local time `l` is the one before the day-ahead gate
/// (09:45 local): a planner that must answer at the gate without delay plans its offer
/// from this interval's snapshot, a quarter of an hour ahead.
#[inline]
pub fn is_pre_gate_local(l: &LocalTime) -> bool {
    l.minute_of_day() + 15 == DA_GATE_MINUTE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        chrono::Utc
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn covering_period_is_parse_periods_inverse_on_whole_days() {
        for text in [
            "2019-01-01..2023-01-01",
            "2024-03-10..2024-03-11",
            "2024-11-03..2024-11-04",
        ] {
            let (s, e) = parse_period(text).unwrap();
            assert_eq!(covering_period(s, e), text);
        }
        // Ending inside a day: that day is covered. 2024-07-01 12:00 UTC is 07:00 CDT.
        let (s, _) = parse_period("2024-06-30..2024-07-01").unwrap();
        assert_eq!(
            covering_period(s, utc(2024, 7, 1, 12, 0)),
            "2024-06-30..2024-07-02"
        );
    }

    #[test]
    fn central_standard_and_daylight_offsets() {
        // January: CST = UTC-6.
        let t = local_time(utc(2024, 1, 15, 18, 0));
        assert_eq!((t.hour, t.day, t.month), (12, 15, 1));
        // July: CDT = UTC-5.
        let t = local_time(utc(2024, 7, 15, 20, 30));
        assert_eq!((t.hour, t.minute), (15, 30));
        // Local year boundary: 2024-01-01 05:59 UTC is still 2023-12-31 local.
        assert_eq!(local_time(utc(2024, 1, 1, 5, 45)).year, 2023);
        assert_eq!(local_time(utc(2024, 1, 1, 6, 0)).year, 2024);
    }

    #[test]
    fn weekday_and_day_number() {
        // 2024-07-15 is a Monday.
        let t = local_time(utc(2024, 7, 15, 17, 0));
        assert_eq!(t.weekday, 0);
        assert!(t.is_weekday());
        let next = local_time(utc(2024, 7, 16, 17, 0));
        assert_eq!(next.day_number, t.day_number + 1);
    }

    #[test]
    fn period_parsing_uses_local_midnight() {
        let (s, e) = parse_period("2024-01-01..2025-01-01").unwrap();
        assert_eq!(s, utc(2024, 1, 1, 6, 0));
        assert_eq!(e, utc(2025, 1, 1, 6, 0));
        let (s, _) = parse_period("2024-07-01..2024-07-02").unwrap();
        assert_eq!(s, utc(2024, 7, 1, 5, 0));
        assert!(
            parse_period("2024-01-01")
                .unwrap_err()
                .to_string()
                .contains("START..END")
        );
        assert!(
            parse_period("2024-02-01..2024-01-01")
                .unwrap_err()
                .to_string()
                .contains("not after")
        );
        assert!(
            parse_period("2024-13-01..2025-01-01")
                .unwrap_err()
                .to_string()
                .contains("2024-13-01")
        );
    }
}

/// Days in a month of the proleptic Gregorian calendar (`month` 1 to 12; 0 outside).
pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Whether the local day of `l` is a NERC holiday, the six on which ERCOT's load takes its
/// holiday shape: New Year's Day, Memorial Day (last Monday of May), Independence Day,
/// Labor Day (first Monday of September), Thanksgiving (fourth Thursday of November) and
/// Christmas Day; a fixed-date one that falls on a Sunday is observed on the Monday after.
pub fn is_nerc_holiday(l: &LocalTime) -> bool {
    const FIXED: [(u8, u8); 3] = [(1, 1), (7, 4), (12, 25)];
    let (m, d, wd) = (l.month, l.day, l.weekday);
    FIXED.contains(&(m, d))
        || (wd == 0 && d > 1 && FIXED.contains(&(m, d - 1)))
        || (m == 5 && wd == 0 && d + 7 > 31)
        || (m == 9 && wd == 0 && d <= 7)
        || (m == 11 && wd == 3 && (22..=28).contains(&d))
}

#[cfg(test)]
mod holiday_tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> LocalTime {
        let ms = local_midnight_utc_ms(NaiveDate::from_ymd_opt(y, m, d).unwrap()).unwrap();
        local_time(ms + 12 * 3_600_000)
    }

    #[test]
    fn nerc_holidays_by_hand() {
        // 2024: New Year (Mon), Memorial Day 27 May, 4 July (Thu), Labor Day 2 Sep,
        // Thanksgiving 28 Nov, Christmas (Wed).
        for (m, d) in [(1, 1), (5, 27), (7, 4), (9, 2), (11, 28), (12, 25)] {
            assert!(is_nerc_holiday(&day(2024, m, d)), "2024-{m}-{d}");
        }
        for (m, d) in [
            (5, 20),
            (7, 5),
            (9, 9),
            (11, 21),
            (11, 29),
            (12, 26),
            (1, 2),
        ] {
            assert!(!is_nerc_holiday(&day(2024, m, d)), "2024-{m}-{d}");
        }
        // A Sunday holiday is observed on the Monday: 4 July 2021, 25 December 2022.
        assert!(is_nerc_holiday(&day(2021, 7, 5)));
        assert!(is_nerc_holiday(&day(2022, 12, 26)));
        // A Saturday one is not moved: 4 July 2020 (Sat), Friday 3 July is a work day.
        assert!(is_nerc_holiday(&day(2020, 7, 4)));
        assert!(!is_nerc_holiday(&day(2020, 7, 3)));
    }

    #[test]
    fn days_in_month_by_hand() {
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2023, 2), 28);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(2024, 6), 30);
        assert_eq!(days_in_month(2024, 7), 31);
        assert_eq!(days_in_month(2024, 13), 0);
    }
}
