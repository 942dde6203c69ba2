//! When a scheduled job runs: a five-field cron expression (minute, hour, day of the month,
//! month, day of the week) read in the installation's time zone.
//!
//! Each field is `*`, a value, a range `a-b`, any of these with a step `/n`, or a list of them
//! separated by commas; months and weekdays may be named (`JAN`, `MON`; any case), and Sunday is
//! 0 or 7. As in cron, when both the day of the month and the day of the week are restricted, a
//! day matching either runs. A local time a daylight-saving change skips does not run that day;
//! one it repeats runs once, at its first occurrence.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone as _, Utc};
use chrono_tz::Tz;

use crate::error::ValidationError;

/// A parsed cron expression, kept with the text it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    text: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn invalid(why: impl Into<String>) -> ValidationError {
    ValidationError::field(
        "",
        format!(
            "{}; a schedule is five fields: minute hour day-of-month month day-of-week, like 0 3 * * *",
            why.into()
        ),
    )
}

/// One field as a bit set of the values it allows.
fn field(
    text: &str,
    name: &str,
    min: u32,
    max: u32,
    names: &[&str],
) -> Result<u64, ValidationError> {
    let value = |s: &str| -> Result<u32, ValidationError> {
        let upper = s.to_ascii_uppercase();
        if let Some(i) = names.iter().position(|n| *n == upper) {
            return Ok(min + i as u32);
        }
        match s.parse::<u32>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(invalid(format!(
                "the {name} field's {s:?} is not from {min} to {max}"
            ))),
        }
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => match s.parse::<u32>() {
                Ok(n) if n > 0 => (r, n),
                _ => {
                    return Err(invalid(format!(
                        "the {name} field's step {s:?} is not a positive number"
                    )))
                }
            },
            None => (part, 1),
        };
        let (from, to) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            // `5/15` means from 5 to the end, every 15.
            (v, if part.contains('/') { max } else { v })
        };
        if from > to {
            return Err(invalid(format!(
                "the {name} field's range {range:?} runs backwards"
            )));
        }
        let mut v = from;
        while v <= to {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

impl CronSchedule {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        if !crate::patterns::CRON.allows(text) {
            return Err(invalid(
                "it is not five fields of values in their bounds, separated by one space",
            ));
        }
        let fields: Vec<&str> = text.split(' ').collect();
        let mut weekdays = field(fields[4], "day-of-week", 0, 7, &WEEKDAYS)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & !(1 << 7);
        }
        Ok(Self {
            text: text.to_owned(),
            minutes: field(fields[0], "minute", 0, 59, &[])?,
            hours: field(fields[1], "hour", 0, 23, &[])?,
            days: field(fields[2], "day-of-month", 1, 31, &[])?,
            months: field(fields[3], "month", 1, 12, &MONTHS)?,
            weekdays,
            days_restricted: fields[2] != "*",
            weekdays_restricted: fields[4] != "*",
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn runs_on(&self, day: NaiveDate) -> bool {
        if self.months & (1 << day.month()) == 0 {
            return false;
        }
        let dom = self.days & (1 << day.day()) != 0;
        let dow = self.weekdays & (1 << day.weekday().num_days_from_sunday()) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// The first time after `after` (strictly) that the schedule runs, read in `zone`; `None`
    /// when it never does (`0 0 31 2 *`), looked for over eight years.
    pub fn next_after(&self, after: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        let start = after.with_timezone(&zone).date_naive();
        for offset in 0..(366 * 8) {
            let day = start + Duration::days(offset);
            if !self.runs_on(day) {
                continue;
            }
            for hour in (0..24).filter(|h| self.hours & (1 << h) != 0) {
                for minute in (0..60).filter(|m| self.minutes & (1 << m) != 0) {
                    let Some(local) = day.and_hms_opt(hour, minute, 0) else {
                        continue;
                    };
                    if let Some(at) = zone.from_local_datetime(&local).earliest() {
                        let at = at.with_timezone(&Utc);
                        if at > after {
                            return Some(at);
                        }
                    }
                }
            }
        }
        None
    }
}

impl serde::Serialize for CronSchedule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl std::fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for CronSchedule {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A time zone of the IANA database, in which schedules are read.
pub type TimeZone = Tz;

/// A time zone by its IANA name (`Europe/Berlin`, `UTC`).
pub fn parse_time_zone(name: &str) -> Result<Tz, ValidationError> {
    name.parse::<Tz>().map_err(|_| {
        ValidationError::field(
            "",
            "must be a time zone's IANA name, like UTC or Europe/Berlin",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_next_run_is_the_first_matching_minute_after() {
        let utc = chrono_tz::UTC;
        for (cron, after, next) in [
            ("* * * * *", "2026-12-07T10:00:30Z", "2026-12-07T10:01:00Z"),
            (
                "0 */6 * * *",
                "2026-12-07T10:00:00Z",
                "2026-12-07T12:00:00Z",
            ),
            (
                "0 */6 * * *",
                "2026-12-07T12:00:00Z",
                "2026-12-07T18:00:00Z",
            ),
            ("30 3 * * *", "2026-12-07T03:30:00Z", "2026-12-08T03:30:00Z"),
            (
                "15,45 9-10 * * MON-FRI",
                "2026-12-11T10:50:00Z",
                "2026-12-14T09:15:00Z",
            ),
            (
                "0 0 1 jan *",
                "2026-12-07T00:00:00Z",
                "2027-01-01T00:00:00Z",
            ),
            ("0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
            ("0 0 * * 7", "2026-12-07T00:00:00Z", "2026-12-13T00:00:00Z"),
            // Both days restricted: either runs (the 10th, or a Sunday before it).
            ("0 0 10 * 0", "2026-12-07T00:00:00Z", "2026-12-10T00:00:00Z"),
            (
                "5/20 * * * *",
                "2026-12-07T10:26:00Z",
                "2026-12-07T10:45:00Z",
            ),
        ] {
            let c = CronSchedule::parse(cron).unwrap();
            assert_eq!(
                c.next_after(at(after), utc),
                Some(at(next)),
                "{cron} after {after}"
            );
        }
        assert_eq!(
            CronSchedule::parse("0 0 31 2 *")
                .unwrap()
                .next_after(at("2026-01-01T00:00:00Z"), utc),
            None
        );
    }

    #[test]
    fn a_schedule_is_read_in_its_time_zone_across_daylight_saving() {
        let berlin = parse_time_zone("Europe/Berlin").unwrap();
        let c = CronSchedule::parse("30 2 * * *").unwrap();
        // 02:30 in Berlin is 01:30 UTC in winter.
        assert_eq!(
            c.next_after(at("2026-12-07T00:00:00Z"), berlin),
            Some(at("2026-12-07T01:30:00Z"))
        );
        // 29 March 2026: 02:30 does not exist (clocks go 02:00 → 03:00): the next is the 30th.
        assert_eq!(
            c.next_after(at("2026-03-28T12:00:00Z"), berlin),
            Some(at("2026-03-30T00:30:00Z"))
        );
        // 25 October 2026: 02:30 happens twice; it runs at the first.
        assert_eq!(
            c.next_after(at("2026-10-24T12:00:00Z"), berlin),
            Some(at("2026-10-25T00:30:00Z"))
        );
        assert_eq!(
            c.next_after(at("2026-10-25T00:30:00Z"), berlin),
            Some(at("2026-10-26T01:30:00Z"))
        );
        assert!(parse_time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn what_is_not_a_schedule_is_refused() {
        for bad in [
            "",
            "* * * *",
            "* * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "5-1 * * * *",
            "a * * * *",
            " * * * * *",
            "* * * * * ",
            "1,,2 * * * *",
            "@daily",
        ] {
            assert!(CronSchedule::parse(bad).is_err(), "{bad:?}");
        }
        for good in [
            "0 3 * * *",
            "*/5 * * * *",
            "0 0 * * sun",
            "0 12 1-7 JAN-MAR 1,3,5",
        ] {
            assert_eq!(CronSchedule::parse(good).unwrap().as_str(), good);
        }
    }
}
