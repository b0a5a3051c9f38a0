//! Grid emergencies as ERCOT declares them: a dated calendar of Energy Emergency Alert (EEA)
//! notices (`configs/emergencies.toml`), never a price rule.
//!
//! Each notice has a start and an end in US/Central wall-clock time, a level (EEA1 to EEA3),
//! whether ERCOT ordered firm load shed while it was in force, and its public source. The
//! market reads the calendar twice per interval:
//! - what is *in force* in the interval (any notice overlapping it): ERCOT deploys the
//!   reserves Load Resources carry, so settlement drops their awarded MW;
//! - what a decision for the interval *can know*: notices issued at or before the
//!   information cutoff and not yet ended then ([`crate::market::Market::snapshot`]).

use crate::time::{INTERVAL_MS, format_utc};
use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::US::Central;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The shipped calendar, embedded at build time.
pub const DEFAULT_EMERGENCIES_TOML: &str = include_str!("../../configs/emergencies.toml");

/// The emergency state of an interval: no emergency is level 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Emergency {
    /// EEA level in force: 0 (none), 1, 2 or 3.
    pub level: u8,
    /// ERCOT ordered firm load shed (rotating outages) while the notice was in force.
    pub load_shed: bool,
}

impl Emergency {
    /// No emergency.
    pub const NONE: Emergency = Emergency {
        level: 0,
        load_shed: false,
    };

    /// True when any EEA level is in force.
    #[inline]
    pub fn active(&self) -> bool {
        self.level > 0
    }

    /// The more severe of two states (higher level; load shed if either sheds).
    #[inline]
    pub fn max(self, o: Emergency) -> Emergency {
        Emergency {
            level: self.level.max(o.level),
            load_shed: self.load_shed || o.load_shed,
        }
    }
}

/// One notice as written in the calendar file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeEntry {
    /// Local start, `YYYY-MM-DDTHH:MM` (US/Central), inclusive.
    pub start: String,
    /// Local end, `YYYY-MM-DDTHH:MM` (US/Central), exclusive.
    pub end: String,
    /// EEA level, 1 to 3.
    pub level: u8,
    /// Firm load shed was ordered while it was in force.
    #[serde(default)]
    pub load_shed: bool,
    /// What it was.
    pub name: String,
    /// Public source of the line.
    pub source: String,
}

/// A notice with its times resolved to UTC milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Notice {
    /// Start, UTC milliseconds (inclusive).
    pub start_ms: i64,
    /// End, UTC milliseconds (exclusive).
    pub end_ms: i64,
    /// Level and load shed.
    pub state: Emergency,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    #[serde(default)]
    notice: Vec<NoticeEntry>,
}

/// A calendar problem, naming the notice, the field and the value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct CalendarError(pub String);

/// The dated calendar of ERCOT emergency notices.
#[derive(Debug, Clone, PartialEq)]
pub struct EmergencyCalendar {
    /// The notices as written.
    pub entries: Vec<NoticeEntry>,
    /// The same notices in UTC, sorted by start.
    pub notices: Vec<Notice>,
}

/// Parses a local `YYYY-MM-DDTHH:MM` (US/Central) time into UTC milliseconds. A wall-clock
/// time repeated by the end of daylight saving time takes its first occurrence; one skipped
/// by its start is an error.
fn parse_local(s: &str, field: &str) -> Result<i64, CalendarError> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").map_err(|e| {
        CalendarError(format!(
            "{field} = {s:?}: not a local YYYY-MM-DDTHH:MM time ({e})"
        ))
    })?;
    Central
        .from_local_datetime(&naive)
        .earliest()
        .map(|d| d.timestamp_millis())
        .ok_or_else(|| {
            CalendarError(format!(
                "{field} = {s:?}: does not exist in US/Central (skipped by daylight saving time)"
            ))
        })
}

impl EmergencyCalendar {
    /// The shipped `configs/emergencies.toml`.
    pub fn default_calendar() -> EmergencyCalendar {
        EmergencyCalendar::from_toml_str(
            DEFAULT_EMERGENCIES_TOML,
            "configs/emergencies.toml (embedded)",
        )
        .expect("embedded emergency calendar is valid")
    }

    /// A calendar with no notices (no emergencies at all).
    pub fn empty() -> EmergencyCalendar {
        EmergencyCalendar {
            entries: Vec::new(),
            notices: Vec::new(),
        }
    }

    /// Parses and checks TOML text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<EmergencyCalendar, CalendarError> {
        let f: CalendarFile =
            toml::from_str(text).map_err(|e| CalendarError(format!("{origin}: {e}")))?;
        EmergencyCalendar::from_entries(f.notice)
            .map_err(|e| CalendarError(format!("{origin}: {e}")))
    }

    /// Reads a calendar file.
    pub fn load(path: &Path) -> Result<EmergencyCalendar, CalendarError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CalendarError(format!("{}: cannot read: {e}", path.display())))?;
        EmergencyCalendar::from_toml_str(&text, &path.display().to_string())
    }

    /// Checks and resolves notices; the error names the notice, field and value.
    pub fn from_entries(entries: Vec<NoticeEntry>) -> Result<EmergencyCalendar, CalendarError> {
        let mut notices = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let field = |f: &str| format!("notice[{i}].{f}");
            let start_ms = parse_local(&e.start, &field("start"))?;
            let end_ms = parse_local(&e.end, &field("end"))?;
            if end_ms <= start_ms {
                return Err(CalendarError(format!(
                    "{} = {:?}: must be after start {:?}",
                    field("end"),
                    e.end,
                    e.start
                )));
            }
            if !(1..=3).contains(&e.level) {
                return Err(CalendarError(format!(
                    "{} = {}: must be 1, 2 or 3",
                    field("level"),
                    e.level
                )));
            }
            if e.load_shed && e.level != 3 {
                return Err(CalendarError(format!(
                    "{} = true: firm load shed is EEA3, but level = {}",
                    field("load_shed"),
                    e.level
                )));
            }
            if e.source.trim().is_empty() {
                return Err(CalendarError(format!(
                    "{} is empty: every notice cites its public source",
                    field("source")
                )));
            }
            notices.push(Notice {
                start_ms,
                end_ms,
                state: Emergency {
                    level: e.level,
                    load_shed: e.load_shed,
                },
            });
        }
        notices.sort_by_key(|n| n.start_ms);
        Ok(EmergencyCalendar { entries, notices })
    }

    /// What is in force at any time in `[start_ms, end_ms)`: the most severe of the notices
    /// overlapping it.
    pub fn in_force_during(&self, start_ms: i64, end_ms: i64) -> Emergency {
        self.notices
            .iter()
            .filter(|n| n.start_ms < end_ms && n.end_ms > start_ms)
            .fold(Emergency::NONE, |a, n| a.max(n.state))
    }

    /// What a decision whose information cutoff is `cutoff_ms` knows: the most severe of the
    /// notices issued at or before the cutoff and not ended by then.
    pub fn known_at(&self, cutoff_ms: i64) -> Emergency {
        self.notices
            .iter()
            .filter(|n| n.start_ms <= cutoff_ms && n.end_ms > cutoff_ms)
            .fold(Emergency::NONE, |a, n| a.max(n.state))
    }

    /// What is in force in the 15-minute interval starting at `interval_start_ms`.
    pub fn in_interval(&self, interval_start_ms: i64) -> Emergency {
        self.in_force_during(interval_start_ms, interval_start_ms + INTERVAL_MS)
    }

    /// One line per notice (UTC times), for logs and reports.
    pub fn describe(&self) -> Vec<String> {
        self.notices
            .iter()
            .zip(&self.entries)
            .map(|(n, e)| {
                format!(
                    "EEA{}{} {} .. {} ({})",
                    n.state.level,
                    if n.state.load_shed { " load shed" } else { "" },
                    format_utc(n.start_ms),
                    format_utc(n.end_ms),
                    e.name
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"
[[notice]]
start = "2023-09-06T19:25"
end = "2023-09-06T20:27"
level = 2
name = "EEA2"
source = "https://example.org/eea"
"#;

    #[test]
    fn overlap_and_knowledge_follow_the_notice_times() {
        let c = EmergencyCalendar::from_toml_str(ONE, "t").unwrap();
        // 19:25 CDT = 00:25 UTC on 7 Sep.
        let n = c.notices[0];
        assert_eq!(format_utc(n.start_ms), "2023-09-07T00:25:00Z");
        assert_eq!(format_utc(n.end_ms), "2023-09-07T01:27:00Z");
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis()
        };
        // The 19:15 interval overlaps 19:25: in force (ERCOT deploys reserves), but a
        // decision taken before 19:25 does not know it.
        let t1915 = at("2023-09-07T00:15:00Z");
        assert_eq!(c.in_interval(t1915).level, 2);
        assert_eq!(c.known_at(t1915).level, 0);
        assert_eq!(c.known_at(at("2023-09-07T00:25:00Z")).level, 2);
        // The 20:15 interval ends at 20:30, after the end: in force; 20:30 is not.
        assert_eq!(c.in_interval(at("2023-09-07T01:15:00Z")).level, 2);
        assert_eq!(c.in_interval(at("2023-09-07T01:30:00Z")), Emergency::NONE);
        assert_eq!(c.known_at(at("2023-09-07T01:27:00Z")), Emergency::NONE);
        assert_eq!(c.in_interval(at("2023-09-06T00:15:00Z")), Emergency::NONE);
    }

    #[test]
    fn errors_name_the_notice_field_and_value() {
        let bad = ONE.replace("level = 2", "level = 4");
        let e = EmergencyCalendar::from_toml_str(&bad, "cal.toml")
            .unwrap_err()
            .0;
        assert!(
            e.contains("cal.toml") && e.contains("notice[0].level = 4"),
            "{e}"
        );
        let bad = ONE.replace("20:27", "19:00");
        let e = EmergencyCalendar::from_toml_str(&bad, "c").unwrap_err().0;
        assert!(e.contains("notice[0].end"), "{e}");
        let bad = ONE.replace("2023-09-06T19:25", "2023-09-06 19:25");
        let e = EmergencyCalendar::from_toml_str(&bad, "c").unwrap_err().0;
        assert!(e.contains("notice[0].start = \"2023-09-06 19:25\""), "{e}");
        let bad = ONE.replace("level = 2", "level = 2\nload_shed = true");
        let e = EmergencyCalendar::from_toml_str(&bad, "c").unwrap_err().0;
        assert!(e.contains("notice[0].load_shed"), "{e}");
        let bad = ONE.replace("https://example.org/eea", " ");
        assert!(
            EmergencyCalendar::from_toml_str(&bad, "c")
                .unwrap_err()
                .0
                .contains("source")
        );
        let bad = ONE.replace("name = \"EEA2\"", "name = \"EEA2\"\ncolour = 1");
        assert!(
            EmergencyCalendar::from_toml_str(&bad, "c")
                .unwrap_err()
                .0
                .contains("colour")
        );
        // 02:30 on the spring-forward day does not exist in US/Central.
        let bad = ONE
            .replace("2023-09-06T19:25", "2023-03-12T02:30")
            .replace("2023-09-06T20:27", "2023-03-12T04:00");
        assert!(
            EmergencyCalendar::from_toml_str(&bad, "c")
                .unwrap_err()
                .0
                .contains("skipped")
        );
    }

    #[test]
    fn embedded_calendar_holds_uri_and_september_2023() {
        let c = EmergencyCalendar::default_calendar();
        assert!(c.entries.iter().all(|e| e.source.starts_with("http")));
        // Uri's rotating outages, not whole days: load shed in force on 16 Feb 2021 at noon
        // local, not on 14 Feb at noon.
        let noon = |d: &str| parse_local(&format!("{d}T12:00"), "t").unwrap();
        assert!(c.in_interval(noon("2021-02-16")).load_shed);
        assert!(!c.in_interval(noon("2021-02-14")).load_shed);
        let sep6 = parse_local("2023-09-06T19:45", "t").unwrap();
        assert_eq!(c.in_interval(sep6).level, 2);
        assert!(!c.in_interval(sep6).load_shed);
        // Nothing in 2024.
        let y2024 = parse_local("2024-01-01T00:00", "t").unwrap();
        let y2025 = parse_local("2025-01-01T00:00", "t").unwrap();
        assert_eq!(c.in_force_during(y2024, y2025), Emergency::NONE);
    }
}
