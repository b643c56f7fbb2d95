//! Backup schedules: hourly at a minute, daily at a time, weekly on a day at a time, in the
//! team's time zone (IANA, through chrono-tz), so a daily 02:00 stays 02:00 local across
//! daylight-saving changes. A local time that does not exist (the spring-forward gap) runs an
//! hour later; one that exists twice (fall back) runs at the first.
//!
//! Pure: the clock is given.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Timelike, Utc,
    Weekday,
};
use chrono_tz::Tz;

/// How often a connection is backed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    Hourly {
        minute: u32,
    },
    Daily {
        hour: u32,
        minute: u32,
    },
    Weekly {
        weekday: Weekday,
        hour: u32,
        minute: u32,
    },
}

/// Why a schedule was refused; each names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("every: `{0}` is not hourly, daily or weekly")]
    Every(String),
    #[error("at: `{0}` is not a time: give HH:MM (24-hour), or :MM for hourly")]
    At(String),
    #[error("weekday: `{0}` is not a day of the week (monday … sunday)")]
    Weekday(String),
    #[error(
        "time zone: `{0}` is not an IANA time zone name (e.g. Europe/Paris, America/New_York, UTC)"
    )]
    TimeZone(String),
}

/// Parses an IANA time zone name.
pub fn time_zone(name: &str) -> Result<Tz, ScheduleError> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| ScheduleError::TimeZone(name.to_string()))
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

impl Every {
    /// From a form: `every` (hourly, daily, weekly), `at` (HH:MM; for hourly, :MM or HH:MM whose
    /// minutes count), `weekday` (for weekly).
    pub fn parse(every: &str, at: &str, weekday: &str) -> Result<Every, ScheduleError> {
        let at_text = at.trim();
        let (hour, minute) = match at_text.split_once(':') {
            Some((h, m)) => {
                let minute: u32 = m.parse().map_err(|_| ScheduleError::At(at.to_string()))?;
                let hour: u32 = if h.is_empty() && every.trim() == "hourly" {
                    0
                } else {
                    h.parse().map_err(|_| ScheduleError::At(at.to_string()))?
                };
                if hour > 23 || minute > 59 || m.len() != 2 {
                    return Err(ScheduleError::At(at.to_string()));
                }
                (hour, minute)
            }
            None => return Err(ScheduleError::At(at.to_string())),
        };
        match every.trim() {
            "hourly" => Ok(Every::Hourly { minute }),
            "daily" => Ok(Every::Daily { hour, minute }),
            "weekly" => {
                let day = [
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                    Weekday::Sat,
                    Weekday::Sun,
                ]
                .into_iter()
                .find(|d| weekday_name(*d) == weekday.trim().to_lowercase())
                .ok_or_else(|| ScheduleError::Weekday(weekday.to_string()))?;
                Ok(Every::Weekly {
                    weekday: day,
                    hour,
                    minute,
                })
            }
            other => Err(ScheduleError::Every(other.to_string())),
        }
    }

    /// The stored form: `(every, minute, hour, weekday 0 = Monday)`.
    pub fn to_row(self) -> (&'static str, i64, i64, i64) {
        match self {
            Every::Hourly { minute } => ("hourly", minute.into(), 0, 0),
            Every::Daily { hour, minute } => ("daily", minute.into(), hour.into(), 0),
            Every::Weekly {
                weekday,
                hour,
                minute,
            } => (
                "weekly",
                minute.into(),
                hour.into(),
                weekday.num_days_from_monday().into(),
            ),
        }
    }

    /// Back from the stored form; `None` for a row no version of Butterfly writes.
    pub fn from_row(every: &str, minute: i64, hour: i64, weekday: i64) -> Option<Every> {
        let minute = u32::try_from(minute).ok().filter(|m| *m < 60)?;
        let hour = u32::try_from(hour).ok().filter(|h| *h < 24)?;
        match every {
            "hourly" => Some(Every::Hourly { minute }),
            "daily" => Some(Every::Daily { hour, minute }),
            "weekly" => {
                let weekday = Weekday::try_from(u8::try_from(weekday).ok()?).ok()?;
                Some(Every::Weekly {
                    weekday,
                    hour,
                    minute,
                })
            }
            _ => None,
        }
    }

    /// The time between two runs, in seconds.
    pub fn interval_secs(self) -> i64 {
        match self {
            Every::Hourly { .. } => 3600,
            Every::Daily { .. } => 86_400,
            Every::Weekly { .. } => 604_800,
        }
    }

    /// `daily at 02:00`.
    pub fn describe(self) -> String {
        match self {
            Every::Hourly { minute } => format!("hourly at :{minute:02}"),
            Every::Daily { hour, minute } => format!("daily at {hour:02}:{minute:02}"),
            Every::Weekly {
                weekday,
                hour,
                minute,
            } => format!(
                "weekly on {} at {hour:02}:{minute:02}",
                weekday_name(weekday)
            ),
        }
    }

    /// The first run strictly after `after`, in `tz`.
    pub fn next_after(self, after: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let local = after.with_timezone(&tz);
        match self {
            Every::Hourly { minute } => {
                // Hour by hour in UTC terms, matching the local minute (zones with :30 offsets).
                let next_minute = after.timestamp().div_euclid(60) * 60 + 60;
                let mut candidate = DateTime::from_timestamp(next_minute, 0).unwrap_or(after);
                for _ in 0..=120 {
                    if candidate.with_timezone(&tz).minute() == minute {
                        return candidate;
                    }
                    candidate += Duration::minutes(1);
                }
                candidate
            }
            Every::Daily { hour, minute } => {
                let mut date = local.date_naive();
                loop {
                    let at = resolve(tz, date, hour, minute);
                    if at > after {
                        return at;
                    }
                    date = date.succ_opt().unwrap_or(date);
                }
            }
            Every::Weekly {
                weekday,
                hour,
                minute,
            } => {
                let mut date = local.date_naive();
                loop {
                    if date.weekday() == weekday {
                        let at = resolve(tz, date, hour, minute);
                        if at > after {
                            return at;
                        }
                    }
                    date = date.succ_opt().unwrap_or(date);
                }
            }
        }
    }
}

/// A local date and time in `tz` as an instant: the first of two (fall back), or an hour later
/// when it does not exist (spring forward).
fn resolve(tz: Tz, date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default();
    let naive = date.and_time(time);
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => match tz.from_local_datetime(&(naive + Duration::hours(1))) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            LocalResult::None => Utc.from_utc_datetime(&naive),
        },
    }
}

/// Seconds as `1 h 12 min` / `40 s`.
pub fn duration_text(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s if s < 86_400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn forms_parse_and_rows_round_trip() {
        let cases = [
            ("hourly", ":15", "", Every::Hourly { minute: 15 }),
            ("hourly", "07:05", "", Every::Hourly { minute: 5 }),
            ("daily", "02:00", "", Every::Daily { hour: 2, minute: 0 }),
            (
                "weekly",
                "23:59",
                "Sunday",
                Every::Weekly {
                    weekday: Weekday::Sun,
                    hour: 23,
                    minute: 59,
                },
            ),
        ];
        for (every, at, day, expected) in cases {
            let parsed = Every::parse(every, at, day).unwrap();
            assert_eq!(parsed, expected);
            let (e, m, h, w) = parsed.to_row();
            assert_eq!(Every::from_row(e, m, h, w), Some(parsed));
        }
        assert!(matches!(
            Every::parse("monthly", "02:00", ""),
            Err(ScheduleError::Every(_))
        ));
        for bad in ["24:00", "2:0", "02:60", "noon", ""] {
            assert!(
                matches!(Every::parse("daily", bad, ""), Err(ScheduleError::At(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Every::parse("weekly", "02:00", "funday"),
            Err(ScheduleError::Weekday(_))
        ));
        assert!(time_zone("Europe/Paris").is_ok());
        assert!(matches!(
            time_zone("Mars/Olympus"),
            Err(ScheduleError::TimeZone(_))
        ));
    }

    #[test]
    fn next_runs_follow_the_local_clock_across_daylight_saving() {
        let paris = time_zone("Europe/Paris").unwrap();
        let daily = Every::Daily {
            hour: 2,
            minute: 30,
        };
        // Before the spring change (CET, +1): 02:30 local = 01:30 UTC.
        assert_eq!(
            daily.next_after(utc("2026-03-27T12:00:00Z"), paris),
            utc("2026-03-28T01:30:00Z")
        );
        // 2026-03-29 02:30 does not exist in Paris: it runs at 03:30 CEST = 01:30 UTC.
        assert_eq!(
            daily.next_after(utc("2026-03-28T12:00:00Z"), paris),
            utc("2026-03-29T01:30:00Z")
        );
        // After it (CEST, +2): 02:30 local = 00:30 UTC.
        assert_eq!(
            daily.next_after(utc("2026-03-29T12:00:00Z"), paris),
            utc("2026-03-30T00:30:00Z")
        );
        // 2026-10-25 02:30 happens twice: the first (CEST) = 00:30 UTC.
        assert_eq!(
            daily.next_after(utc("2026-10-24T12:00:00Z"), paris),
            utc("2026-10-25T00:30:00Z")
        );
        // Strictly after: at the run time itself, the next day's.
        assert_eq!(
            daily.next_after(utc("2026-03-30T00:30:00Z"), paris),
            utc("2026-03-31T00:30:00Z")
        );

        let weekly = Every::Weekly {
            weekday: Weekday::Mon,
            hour: 9,
            minute: 0,
        };
        let new_york = time_zone("America/New_York").unwrap();
        // 2026-11-23 is a Monday; 09:00 EST = 14:00 UTC.
        assert_eq!(
            weekly.next_after(utc("2026-11-23T13:00:00Z"), new_york),
            utc("2026-11-23T14:00:00Z")
        );
        assert_eq!(
            weekly.next_after(utc("2026-11-23T14:00:00Z"), new_york),
            utc("2026-11-30T14:00:00Z")
        );

        let hourly = Every::Hourly { minute: 0 };
        let kolkata = time_zone("Asia/Kolkata").unwrap();
        // +05:30: local :00 is UTC :30.
        assert_eq!(
            hourly.next_after(utc("2026-11-23T10:00:00Z"), kolkata),
            utc("2026-11-23T10:30:00Z")
        );
        assert_eq!(
            hourly.next_after(utc("2026-11-23T10:30:00Z"), kolkata),
            utc("2026-11-23T11:30:00Z")
        );
        assert_eq!(
            Every::Hourly { minute: 15 }.next_after(utc("2026-11-23T10:14:59Z"), chrono_tz::UTC),
            utc("2026-11-23T10:15:00Z")
        );
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_text(40), "40 s");
        assert_eq!(duration_text(4320), "1 h 12 min");
        assert_eq!(duration_text(90_000), "1 d 1 h");
    }
}
