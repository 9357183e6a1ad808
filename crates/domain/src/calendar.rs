//! Business hours: when a team is at work, in its own time zone, with holidays. SLA targets
//! count only this time, so "4 business hours" asked on Friday evening is due Monday morning,
//! and a day when clocks change still has its eight working hours.

use std::collections::BTreeSet;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{optional_text, required_text};
use crate::{Invalid, InvalidField};

pub const MAX_NAME: usize = 100;
pub const MAX_INTERVALS_PER_DAY: usize = 6;
pub const MAX_HOLIDAYS: usize = 500;
/// How far ahead business time is looked for: a target further away than this is refused.
pub const HORIZON_DAYS: i64 = 2 * 366;

const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Opening hours of one weekday: `"09:00"` to `"17:30"`; `"24:00"` ends at midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    /// monday ... sunday
    pub day: String,
    pub open: String,
    pub close: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// A date in the calendar's time zone, e.g. `2026-12-25`.
    pub date: String,
    #[serde(default)]
    pub name: String,
}

/// A calendar as people write it; stored as given once valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarInput {
    pub name: String,
    /// An IANA time zone, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// Several ranges per day are allowed (e.g. a lunch break); days without any are closed.
    pub hours: Vec<OpeningHours>,
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

/// Checked business hours, ready to count with.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    tz: TimeZone,
    /// Minutes after midnight, open to close, per weekday (Monday first), sorted.
    week: [Vec<(u16, u16)>; 7],
    holidays: BTreeSet<Date>,
    /// Open all the time: counting is plain arithmetic.
    always: bool,
}

fn minutes(field: &str, v: &str, allow_midnight_end: bool) -> Result<u16, InvalidField> {
    let bad = || InvalidField {
        field: field.to_string(),
        message: format!("{v:?} is not a time like 09:00"),
    };
    let (h, m) = v.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if (h == 24 && m == 0 && allow_midnight_end) || (h < 24 && m < 60) {
        Ok(h * 60 + m)
    } else {
        Err(bad())
    }
}

impl CalendarInput {
    pub fn validate(&self) -> Result<(String, BusinessCalendar), Invalid> {
        let mut errors = Vec::new();
        let name = required_text("name", &self.name, MAX_NAME)
            .map_err(|e| errors.extend(e.fields))
            .unwrap_or_default();
        let tz = match TimeZone::get(self.time_zone.trim()) {
            Ok(tz) => Some(tz),
            Err(_) => {
                errors.push(InvalidField {
                    field: "time_zone".into(),
                    message: format!(
                        "{:?} is not a known time zone (e.g. Europe/Berlin)",
                        self.time_zone
                    ),
                });
                None
            }
        };
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for (i, h) in self.hours.iter().enumerate() {
            let field = format!("hours[{i}]");
            let Some(day) = DAYS
                .iter()
                .position(|d| d.eq_ignore_ascii_case(h.day.trim()))
            else {
                errors.push(InvalidField {
                    field: format!("{field}.day"),
                    message: format!("must be one of {}", DAYS.join(", ")),
                });
                continue;
            };
            match (
                minutes(&format!("{field}.open"), &h.open, false),
                minutes(&format!("{field}.close"), &h.close, true),
            ) {
                (Ok(open), Ok(close)) if open < close => week[day].push((open, close)),
                (Ok(_), Ok(_)) => errors.push(InvalidField {
                    field: format!("{field}.close"),
                    message: "must be after the opening time".into(),
                }),
                (a, b) => errors.extend(a.err().into_iter().chain(b.err())),
            }
        }
        for (day, ranges) in week.iter_mut().enumerate() {
            ranges.sort_unstable();
            if ranges.len() > MAX_INTERVALS_PER_DAY {
                errors.push(InvalidField {
                    field: "hours".into(),
                    message: format!("at most {MAX_INTERVALS_PER_DAY} ranges on {}", DAYS[day]),
                });
            }
            if ranges.windows(2).any(|w| w[1].0 < w[0].1) {
                errors.push(InvalidField {
                    field: "hours".into(),
                    message: format!("ranges on {} overlap", DAYS[day]),
                });
            }
        }
        if week.iter().all(Vec::is_empty) {
            errors.push(InvalidField {
                field: "hours".into(),
                message: "give at least one opening range".into(),
            });
        }
        if self.holidays.len() > MAX_HOLIDAYS {
            errors.push(InvalidField {
                field: "holidays".into(),
                message: format!("at most {MAX_HOLIDAYS}"),
            });
        }
        let mut holidays = BTreeSet::new();
        for (i, h) in self.holidays.iter().take(MAX_HOLIDAYS).enumerate() {
            match h.date.trim().parse::<Date>() {
                Ok(d) => {
                    holidays.insert(d);
                }
                Err(_) => errors.push(InvalidField {
                    field: format!("holidays[{i}].date"),
                    message: format!("{:?} is not a date like 2026-12-25", h.date),
                }),
            }
            if let Err(e) = optional_text(&format!("holidays[{i}].name"), &h.name, MAX_NAME) {
                errors.extend(e.fields);
            }
        }
        match tz {
            Some(tz) if errors.is_empty() => {
                let always =
                    holidays.is_empty() && week.iter().all(|d| d.as_slice() == [(0, 24 * 60)]);
                Ok((
                    name,
                    BusinessCalendar {
                        tz,
                        week,
                        holidays,
                        always,
                    },
                ))
            }
            _ => Err(Invalid { fields: errors }),
        }
    }
}

fn weekday_index(w: Weekday) -> usize {
    usize::try_from(w.to_monday_zero_offset()).unwrap_or(0)
}

impl BusinessCalendar {
    /// Open around the clock, every day: SLAs without business hours count with this.
    pub fn always() -> Self {
        Self {
            tz: TimeZone::UTC,
            week: std::array::from_fn(|_| vec![(0, 24 * 60)]),
            holidays: BTreeSet::new(),
            always: true,
        }
    }

    /// The instant a civil time of `date` falls on here; in a gap or fold, the usual
    /// ("compatible") reading: the later instant for gaps, the earlier for folds.
    fn instant(&self, date: Date, minute: u16) -> Option<Timestamp> {
        let (date, minute) = if minute >= 24 * 60 {
            (date.tomorrow().ok()?, 0)
        } else {
            (date, minute)
        };
        let time = Time::new(
            i8::try_from(minute / 60).ok()?,
            i8::try_from(minute % 60).ok()?,
            0,
            0,
        )
        .ok()?;
        self.tz
            .to_ambiguous_zoned(date.to_datetime(time))
            .compatible()
            .ok()
            .map(|z| z.timestamp())
    }

    /// Business periods that end after `from`, in order, clipped to start no earlier than it,
    /// up to the horizon.
    fn periods_from(&self, from: Timestamp) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        let first = from.to_zoned(self.tz.clone()).date();
        // A day earlier: a range of yesterday may still be open (time zones, midnight ends).
        let start = first.yesterday().unwrap_or(first);
        (0..HORIZON_DAYS)
            .map_while(move |n| start.checked_add(n.days()).ok())
            .filter(|d| !self.holidays.contains(d))
            .flat_map(move |d| {
                self.week[weekday_index(d.weekday())]
                    .iter()
                    .filter_map(move |&(open, close)| {
                        Some((self.instant(d, open)?, self.instant(d, close)?))
                    })
            })
            .filter(move |&(_, end)| end > from)
            .map(move |(start, end)| (start.max(from), end))
    }

    pub fn is_open(&self, at: Timestamp) -> bool {
        self.always || self.periods_from(at).next().is_some_and(|(s, _)| s <= at)
    }

    /// When business time next runs: `at` itself if open now.
    pub fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        if self.always {
            return Some(at);
        }
        self.periods_from(at).next().map(|(s, _)| s)
    }

    /// The instant when `secs` of business time have passed after `start`; `None` beyond
    /// the horizon.
    pub fn add_business(&self, start: Timestamp, secs: i64) -> Option<Timestamp> {
        let mut left = SignedDuration::from_secs(secs.max(0));
        if self.always {
            return start.checked_add(left).ok();
        }
        for (s, e) in self.periods_from(start) {
            let len = e.duration_since(s);
            if left <= len {
                return s.checked_add(left).ok();
            }
            left -= len;
        }
        None
    }

    /// Business seconds between two instants (0 when `b` is not after `a`).
    pub fn business_between(&self, a: Timestamp, b: Timestamp) -> i64 {
        if b <= a {
            return 0;
        }
        if self.always {
            return b.duration_since(a).as_secs();
        }
        let mut total = SignedDuration::ZERO;
        for (s, e) in self.periods_from(a) {
            if s >= b {
                break;
            }
            total += e.min(b).duration_since(s);
        }
        total.as_secs()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    fn weekdays(tz: &str, open: &str, close: &str, holidays: &[&str]) -> BusinessCalendar {
        CalendarInput {
            name: "Office".into(),
            time_zone: tz.into(),
            hours: DAYS[..5]
                .iter()
                .map(|d| OpeningHours {
                    day: d.to_string(),
                    open: open.into(),
                    close: close.into(),
                })
                .collect(),
            holidays: holidays
                .iter()
                .map(|d| Holiday {
                    date: d.to_string(),
                    name: String::new(),
                })
                .collect(),
        }
        .validate()
        .unwrap()
        .1
    }

    fn at(tz: &str, civil: &str) -> Timestamp {
        civil
            .parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(TimeZone::get(tz).unwrap())
            .unwrap()
            .timestamp()
    }

    const H: i64 = 3600;

    #[test]
    fn friday_evening_is_due_on_monday() {
        let cal = weekdays("Europe/Berlin", "09:00", "17:00", &[]);
        let fri = at("Europe/Berlin", "2026-11-20T16:00");
        assert_eq!(
            cal.add_business(fri, 4 * H),
            Some(at("Europe/Berlin", "2026-11-23T12:00"))
        );
        assert!(!cal.is_open(at("Europe/Berlin", "2026-11-21T10:00")));
        assert_eq!(
            cal.next_open(at("Europe/Berlin", "2026-11-21T10:00")),
            Some(at("Europe/Berlin", "2026-11-23T09:00"))
        );
    }

    #[test]
    fn a_working_day_keeps_its_hours_across_dst_changes() {
        // Berlin springs forward on Sunday 2026-03-29 and falls back on Sunday 2026-10-25;
        // New York on 2026-03-08 and 2026-11-01.
        for (tz, before, after_day) in [
            ("Europe/Berlin", "2026-03-27T09:00", "2026-03-30"),
            ("Europe/Berlin", "2026-10-23T09:00", "2026-10-26"),
            ("America/New_York", "2026-03-06T09:00", "2026-03-09"),
            ("America/New_York", "2026-10-30T09:00", "2026-11-02"),
        ] {
            let cal = weekdays(tz, "09:00", "17:00", &[]);
            let start = at(tz, before);
            // 8 business hours on Friday, then 8 more on Monday: Monday 17:00 local.
            let due = cal.add_business(start, 16 * H).unwrap();
            assert_eq!(due, at(tz, &format!("{after_day}T17:00")), "{tz}");
            assert_eq!(cal.business_between(start, due), 16 * H, "{tz}");
        }
    }

    #[test]
    fn round_the_clock_counts_real_time_across_a_dst_night() {
        let cal = CalendarInput {
            name: "24/7 Berlin".into(),
            time_zone: "Europe/Berlin".into(),
            hours: DAYS
                .iter()
                .map(|d| OpeningHours {
                    day: d.to_string(),
                    open: "00:00".into(),
                    close: "24:00".into(),
                })
                .collect(),
            holidays: vec![Holiday {
                date: "2026-12-25".into(),
                name: "Christmas".into(),
            }],
        }
        .validate()
        .unwrap()
        .1;
        // The night of 2026-03-29 lasts 23 hours: 24 business hours end at 01:00 local.
        let start = at("Europe/Berlin", "2026-03-29T00:00");
        assert_eq!(
            cal.add_business(start, 24 * H),
            Some(at("Europe/Berlin", "2026-03-30T01:00"))
        );
    }

    #[test]
    fn holidays_are_skipped() {
        let cal = weekdays(
            "Europe/Berlin",
            "09:00",
            "17:00",
            &["2026-12-24", "2026-12-25"],
        );
        let wed = at("Europe/Berlin", "2026-12-23T15:00");
        // 2 h on Wednesday, Thursday and Friday are holidays, 2 h on Monday the 28th.
        assert_eq!(
            cal.add_business(wed, 4 * H),
            Some(at("Europe/Berlin", "2026-12-28T11:00"))
        );
    }

    #[test]
    fn lunch_breaks_and_sparse_calendars() {
        let cal = CalendarInput {
            name: "Sparse".into(),
            time_zone: "UTC".into(),
            hours: vec![OpeningHours {
                day: "wednesday".into(),
                open: "10:00".into(),
                close: "11:00".into(),
            }],
            holidays: vec![],
        }
        .validate()
        .unwrap()
        .1;
        let mon = at("UTC", "2026-11-23T00:00");
        assert_eq!(
            cal.add_business(mon, 3 * H),
            Some(at("UTC", "2026-12-09T11:00"))
        );
        // A year of one hour a week is past the two-year horizon: no answer, quickly.
        assert_eq!(cal.add_business(mon, 200 * H), None);
    }

    #[test]
    fn bad_calendars_name_the_field() {
        let err = CalendarInput {
            name: " ".into(),
            time_zone: "Mars/Olympus".into(),
            hours: vec![
                OpeningHours {
                    day: "funday".into(),
                    open: "09:00".into(),
                    close: "17:00".into(),
                },
                OpeningHours {
                    day: "monday".into(),
                    open: "17:00".into(),
                    close: "09:00".into(),
                },
                OpeningHours {
                    day: "tuesday".into(),
                    open: "9am".into(),
                    close: "17:00".into(),
                },
            ],
            holidays: vec![Holiday {
                date: "25/12".into(),
                name: String::new(),
            }],
        }
        .validate()
        .unwrap_err();
        let fields: Vec<&str> = err.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "time_zone",
                "hours[0].day",
                "hours[1].close",
                "hours[2].open",
                "hours",
                "holidays[0].date"
            ]
        );
    }

    proptest! {
        #[test]
        fn adding_then_measuring_gives_back_the_duration(
            start_min in 0i64..(60 * 24 * 400),
            secs in 0i64..(90 * 24 * 3600),
        ) {
            let cal = weekdays("America/New_York", "08:30", "17:45", &["2026-07-03", "2026-12-25"]);
            let start = at("UTC", "2026-01-01T00:00").checked_add(SignedDuration::from_mins(start_min)).unwrap();
            let due = cal.add_business(start, secs).unwrap();
            prop_assert_eq!(cal.business_between(start, due), secs);
            let later = cal.add_business(start, secs + 60).unwrap();
            prop_assert!(later > due);
        }
    }
}
