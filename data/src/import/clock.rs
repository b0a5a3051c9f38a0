//! ERCOT's clock: US/Central operating days, hour-ending labels ("01:00" to "24:00"), the
//! repeated hour of the November fall-back (flagged `DSTFlag = Y`) and the missing hour of the
//! March spring-forward, mapped to UTC interval starts through the IANA time-zone database.
//!
//! `DSTFlag` (and `RepeatedHourFlag`) is `Y` on the second, standard-time occurrence of the
//! repeated hour and `N` everywhere else, including the first (daylight-time) occurrence:
//! gridstatus reads it that way (gridstatus/gridstatus pull requests #467 "it's N during DST
//! and Y during Standard Time" and #469 "dstFlag == Y for the repeated hour only").
use chrono::{LocalResult, NaiveDate, TimeZone};
use chrono_tz::US::Central;

/// Milliseconds in one hour.
pub(crate) const HOUR_MS: i64 = 3_600_000;
/// Milliseconds in one day.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// Parses an ERCOT date: `MM/DD/YYYY` (every ERCOT report) or `YYYY-MM-DD`.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if let Some((m, rest)) = s.split_once('/') {
        let (d, y) = rest.split_once('/')?;
        let (y, m, d) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
        return NaiveDate::from_ymd_opt(y, m, d);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Parses an hour-ending label: `01:00` to `24:00`, or the bare number `1` to `24`.
pub(crate) fn parse_hour_ending(s: &str) -> Option<u32> {
    let s = s.trim();
    let h: u32 = match s.split_once(':') {
        Some((h, "00")) => h.parse().ok()?,
        Some(_) => return None,
        None => s.parse().ok()?,
    };
    (1..=24).contains(&h).then_some(h)
}

/// Parses a DST / repeated-hour flag: `Y`/`N` (also `true`/`false`).
pub(crate) fn parse_flag(s: &str) -> Option<bool> {
    match s.trim() {
        "Y" | "y" | "true" | "True" | "TRUE" => Some(true),
        "N" | "n" | "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// UTC milliseconds of the local wall time `minutes` after midnight of `date`. `repeated`
/// picks the second (standard-time) occurrence of a repeated wall time. Errors say why: a
/// wall time the spring-forward skipped, or a repeated flag on a time that is not repeated.
pub(crate) fn local_to_utc_ms(
    date: NaiveDate,
    minutes: u32,
    repeated: bool,
) -> Result<i64, String> {
    let naive = date
        .and_hms_opt(0, 0, 0)
        .ok_or_else(|| format!("{date} has no midnight"))?
        + chrono::Duration::minutes(i64::from(minutes));
    match Central.from_local_datetime(&naive) {
        LocalResult::Single(t) if !repeated => Ok(t.timestamp_millis()),
        LocalResult::Single(_) => Err(format!(
            "the repeated-hour flag is Y but {naive} US/Central is not a repeated hour"
        )),
        LocalResult::Ambiguous(first, second) => Ok(if repeated {
            second.timestamp_millis()
        } else {
            first.timestamp_millis()
        }),
        LocalResult::None => Err(format!(
            "{naive} does not exist in US/Central (the hour the spring-forward skips)"
        )),
    }
}

/// UTC start of the hour ending `hour_ending` (1 to 24) of operating day `date`, plus
/// `interval` (0 to 3) quarter hours: hour ending 24 is the hour that ends at the next day's
/// 00:00.
pub(crate) fn hour_ending_to_utc_ms(
    date: NaiveDate,
    hour_ending: u32,
    interval: u32,
    repeated: bool,
) -> Result<i64, String> {
    local_to_utc_ms(date, (hour_ending - 1) * 60 + interval * 15, repeated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use powermix_env::time::format_utc;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn labels_parse_and_bad_ones_do_not() {
        assert_eq!(parse_date("03/10/2024"), Some(d(2024, 3, 10)));
        assert_eq!(parse_date("2024-03-10"), Some(d(2024, 3, 10)));
        assert_eq!(parse_date("02/30/2024"), None);
        assert_eq!(parse_hour_ending("24:00"), Some(24));
        assert_eq!(parse_hour_ending("7"), Some(7));
        assert_eq!(parse_hour_ending("00:00"), None);
        assert_eq!(parse_hour_ending("25"), None);
        assert_eq!(parse_hour_ending("01:30"), None);
        assert_eq!(parse_flag("Y"), Some(true));
        assert_eq!(parse_flag("maybe"), None);
    }

    #[test]
    fn hour_ending_24_is_the_hour_before_the_next_midnight() {
        // 2024-01-01 is CST (UTC-6): hour ending 24 starts 23:00 CST = 05:00Z on Jan 2.
        let t = hour_ending_to_utc_ms(d(2024, 1, 1), 24, 0, false).unwrap();
        assert_eq!(format_utc(t), "2024-01-02T05:00:00Z");
        let t = hour_ending_to_utc_ms(d(2024, 7, 1), 1, 3, false).unwrap();
        assert_eq!(format_utc(t), "2024-07-01T05:45:00Z"); // 00:45 CDT
    }

    #[test]
    fn the_repeated_hour_and_the_skipped_hour() {
        // 2024-11-03: 01:00-02:00 happens twice, first CDT (06:00Z) then CST (07:00Z).
        let first = hour_ending_to_utc_ms(d(2024, 11, 3), 2, 0, false).unwrap();
        let second = hour_ending_to_utc_ms(d(2024, 11, 3), 2, 0, true).unwrap();
        assert_eq!(format_utc(first), "2024-11-03T06:00:00Z");
        assert_eq!(format_utc(second), "2024-11-03T07:00:00Z");
        // Hour ending 3 follows the repeated hour: 02:00 CST = 08:00Z.
        let he3 = hour_ending_to_utc_ms(d(2024, 11, 3), 3, 0, false).unwrap();
        assert_eq!(format_utc(he3), "2024-11-03T08:00:00Z");
        // 2024-03-10: 02:00-03:00 does not exist.
        let e = hour_ending_to_utc_ms(d(2024, 3, 10), 3, 0, false).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        let e = hour_ending_to_utc_ms(d(2024, 7, 4), 3, 0, true).unwrap_err();
        assert!(e.contains("not a repeated hour"), "{e}");
    }
}
