//! jq 1.6's date builtins, which are thin layers over the C library's
//! `gmtime`, `timegm`, `strftime` and `strptime` (glibc, UTC): broken-down times
//! are arrays `[year, month0, mday, hours, minutes, seconds, wday, yday]`, years
//! are not limited to four digits, and `strptime` keeps unparsed text. Formats
//! with directives not listed here are declined (the caller asks jaq).

use serde_json::Value;

use super::Fault;
use super::values::{describe, num, number};

const DAYS_BEFORE_MONTH: [[i64; 12]; 2] = [
    [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334],
    [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335],
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Seconds beyond which the C library's `gmtime` fails or jq 1.6 aborts.
const EPOCH_LIMIT: f64 = 1e16;

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1..=12).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A C `struct tm` as jq 1.6 fills it (years are full years here).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Tm {
    year: i64,
    mon: i64,
    mday: i64,
    hour: i64,
    min: i64,
    sec: i64,
    wday: i64,
    yday: i64,
}

impl Tm {
    /// `timegm`: the fields normalised, as seconds since the epoch.
    fn timegm(&self) -> i64 {
        let y = self.year + self.mon.div_euclid(12);
        let m = self.mon.rem_euclid(12);
        let days = days_from_civil(y, m + 1, 1) + self.mday - 1;
        days * 86_400 + self.hour * 3600 + self.min * 60 + self.sec
    }

    fn gmtime(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, mon, mday) = civil_from_days(days);
        Tm {
            year,
            mon: mon - 1,
            mday,
            hour: rem / 3600,
            min: rem % 3600 / 60,
            sec: rem % 60,
            wday: (days + 4).rem_euclid(7),
            yday: days - days_from_civil(year, 1, 1),
        }
    }

    /// glibc's weekday and day of the year from year, month and day (days may overflow).
    fn set_xday(&mut self) {
        let y = self.year + self.mon.div_euclid(12);
        let m = self.mon.rem_euclid(12);
        let days = days_from_civil(y, m + 1, 1) + self.mday - 1;
        self.wday = (days + 4).rem_euclid(7);
        self.yday = DAYS_BEFORE_MONTH[usize::from(is_leap(self.year))][m as usize] + self.mday - 1;
    }

    fn to_array(self) -> Vec<Value> {
        [
            self.year, self.mon, self.mday, self.hour, self.min, self.sec, self.wday, self.yday,
        ]
        .into_iter()
        .map(Value::from)
        .collect()
    }

    /// jq 1.6's `jv2tm`: eight numbers, each truncated to an integer.
    fn from_array(v: &Value, what: &str) -> Result<Self, Fault> {
        let not_parsed = || Fault::Error(format!("{what} requires parsed datetime inputs"));
        let Value::Array(items) = v else {
            return Err(not_parsed());
        };
        let mut f = [0i64; 8];
        for (slot, item) in f
            .iter_mut()
            .zip(items.iter().chain(std::iter::repeat(&Value::Null)))
        {
            let x = num(item).ok_or_else(not_parsed)?;
            if x.is_nan() || x.abs() >= 1e9 {
                return Err(Fault::Decline);
            }
            *slot = x.trunc() as i64;
        }
        Ok(Tm {
            year: f[0],
            mon: f[1],
            mday: f[2],
            hour: f[3],
            min: f[4],
            sec: f[5],
            wday: f[6],
            yday: f[7],
        })
    }
}

/// `gmtime`: a number of seconds as a broken-down time, fractional seconds kept.
pub fn gmtime(v: &Value) -> Result<Value, Fault> {
    let Some(f) = num(v) else {
        return Err(Fault::Error("gmtime() requires a number".into()));
    };
    if f.is_nan() || f.abs() >= EPOCH_LIMIT {
        return Err(Fault::Decline);
    }
    let tm = Tm::gmtime(f.trunc() as i64);
    let mut out = tm.to_array();
    out[5] = number(tm.sec as f64 + (f - f.floor()));
    Ok(Value::Array(out))
}

/// `mktime`: a broken-down time as seconds since the epoch.
pub fn mktime(v: &Value) -> Result<Value, Fault> {
    if !v.is_array() {
        return Err(Fault::Error("mktime requires array inputs".into()));
    }
    let tm = Tm::from_array(v, "mktime")?;
    let t = tm.timegm();
    if t == -1 {
        return Err(Fault::Error("invalid gmtime representation".into()));
    }
    Ok(number(t as f64))
}

/// `strftime(fmt)` on a number of seconds or a broken-down time.
pub fn strftime(v: &Value, fmt: &Value) -> Result<Value, Fault> {
    let tm = match v {
        Value::Number(_) => {
            let f = num(v).unwrap_or(f64::NAN);
            if f.is_nan() || f.abs() >= EPOCH_LIMIT {
                return Err(Fault::Decline);
            }
            Tm::gmtime(f.trunc() as i64)
        }
        _ => Tm::from_array(v, "strftime/1")?,
    };
    let Value::String(fmt) = fmt else {
        return Err(Fault::Error("strftime/1 requires a string format".into()));
    };
    let mut out = String::new();
    format_tm(&mut out, &tm, fmt)?;
    Ok(Value::String(out))
}

fn format_tm(out: &mut String, tm: &Tm, fmt: &str) -> Result<(), Fault> {
    use std::fmt::Write;
    // Fields out of their usual range print differently in glibc; leave them to jaq.
    let sane = (0..12).contains(&tm.mon)
        && (0..=31).contains(&tm.mday)
        && (0..24).contains(&tm.hour)
        && (0..60).contains(&tm.min)
        && (0..=61).contains(&tm.sec)
        && (0..7).contains(&tm.wday)
        && (0..366).contains(&tm.yday)
        && tm.year >= 1000;
    if !sane {
        return Err(Fault::Decline);
    }
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let _ = match chars.next().ok_or(Fault::Decline)? {
            'Y' => write!(out, "{}", tm.year),
            'm' => write!(out, "{:02}", tm.mon + 1),
            'd' => write!(out, "{:02}", tm.mday),
            'e' => write!(out, "{:2}", tm.mday),
            'H' => write!(out, "{:02}", tm.hour),
            'I' => write!(out, "{:02}", (tm.hour + 11) % 12 + 1),
            'M' => write!(out, "{:02}", tm.min),
            'S' => write!(out, "{:02}", tm.sec),
            'p' => write!(out, "{}", if tm.hour < 12 { "AM" } else { "PM" }),
            'j' => write!(out, "{:03}", tm.yday + 1),
            'y' => write!(out, "{:02}", tm.year.rem_euclid(100)),
            'a' => write!(out, "{}", &WEEKDAYS[tm.wday as usize][..3]),
            'A' => write!(out, "{}", WEEKDAYS[tm.wday as usize]),
            'b' | 'h' => write!(out, "{}", &MONTHS[tm.mon as usize][..3]),
            'B' => write!(out, "{}", MONTHS[tm.mon as usize]),
            'u' => write!(out, "{}", (tm.wday + 6) % 7 + 1),
            'w' => write!(out, "{}", tm.wday),
            'Z' => write!(out, "UTC"),
            'z' => write!(out, "+0000"),
            's' => write!(out, "{}", tm.timegm()),
            'n' => writeln!(out),
            't' => write!(out, "\t"),
            '%' => write!(out, "%"),
            'T' => format_tm(out, tm, "%H:%M:%S").map_err(|_| std::fmt::Error),
            'D' => format_tm(out, tm, "%m/%d/%y").map_err(|_| std::fmt::Error),
            'F' => format_tm(out, tm, "%Y-%m-%d").map_err(|_| std::fmt::Error),
            'R' => format_tm(out, tm, "%H:%M").map_err(|_| std::fmt::Error),
            'c' => format_tm(out, tm, "%a %b %e %H:%M:%S %Y").map_err(|_| std::fmt::Error),
            _ => return Err(Fault::Decline),
        };
    }
    Ok(())
}

/// `strptime(fmt)`: glibc's parse into jq 1.6's broken-down time; text left
/// after the format is appended to the array, as jq 1.6 does.
pub fn strptime(v: &Value, fmt: &Value) -> Result<Value, Fault> {
    let (Value::String(s), Value::String(fmt)) = (v, fmt) else {
        return Err(Fault::Error(format!(
            "strptime/1 requires string inputs and arguments, got {}",
            describe(v)
        )));
    };
    let mut p = Parse {
        tm: Tm {
            year: 1900,
            mon: 0,
            mday: 0,
            hour: 0,
            min: 0,
            sec: 0,
            wday: 8,
            yday: 367,
        },
        want_xday: false,
        from_epoch: false,
    };
    // Text may follow the format only after white space.
    let rest = match p.parse(s.as_bytes(), fmt.as_bytes())? {
        Some(rest) if rest.first().is_none_or(|&b| is_space(b)) => rest,
        _ => {
            return Err(Fault::Error(format!(
                "date \"{s}\" does not match format \"{fmt}\""
            )));
        }
    };
    if !p.from_epoch {
        // glibc fills them when a date was parsed; jq 1.6 when the day is plausible.
        if p.want_xday || (1..=31).contains(&p.tm.mday) {
            p.tm.set_xday();
        }
    }
    let mut out = p.tm.to_array();
    if !rest.is_empty() {
        let rest = std::str::from_utf8(rest).map_err(|_| Fault::Decline)?;
        out.push(Value::String(rest.to_owned()));
    }
    Ok(Value::Array(out))
}

struct Parse {
    tm: Tm,
    want_xday: bool,
    from_epoch: bool,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn skip_space(mut s: &[u8]) -> &[u8] {
    while let [b, rest @ ..] = s {
        if !is_space(*b) {
            break;
        }
        s = rest;
    }
    s
}

/// glibc's `get_number`: spaces, then up to `digits` digits while the value stays within `to`.
fn number_in(s: &[u8], from: i64, to: i64, digits: usize) -> Option<(i64, &[u8])> {
    let mut s = skip_space(s);
    let first = *s.first()?;
    if !first.is_ascii_digit() {
        return None;
    }
    let mut val = 0i64;
    let mut n = digits;
    loop {
        val = val * 10 + i64::from(s[0] - b'0');
        s = &s[1..];
        n -= 1;
        if n == 0 || val * 10 > to || !s.first().is_some_and(u8::is_ascii_digit) {
            break;
        }
    }
    (from..=to).contains(&val).then_some((val, s))
}

impl Parse {
    /// The unparsed rest, `None` for a mismatch, or a decline for directives not handled here.
    fn parse<'s>(&mut self, mut s: &'s [u8], fmt: &[u8]) -> Result<Option<&'s [u8]>, Fault> {
        let mut f = fmt;
        while let [c, rest @ ..] = f {
            f = rest;
            if is_space(*c) {
                s = skip_space(s);
                continue;
            }
            if *c != b'%' {
                match s.split_first() {
                    Some((b, after)) if b == c => s = after,
                    _ => return Ok(None),
                }
                continue;
            }
            let [d, rest @ ..] = f else {
                return Err(Fault::Decline);
            };
            f = rest;
            let field = |s, from, to, n| number_in(s, from, to, n);
            let parsed = match d {
                b'Y' => field(s, 0, 9999, 4).map(|(v, r)| {
                    self.tm.year = v;
                    self.want_xday = true;
                    r
                }),
                b'm' => field(s, 1, 12, 2).map(|(v, r)| {
                    self.tm.mon = v - 1;
                    self.want_xday = true;
                    r
                }),
                b'd' | b'e' => field(s, 1, 31, 2).map(|(v, r)| {
                    self.tm.mday = v;
                    self.want_xday = true;
                    r
                }),
                b'H' => field(s, 0, 23, 2).map(|(v, r)| {
                    self.tm.hour = v;
                    r
                }),
                b'M' => field(s, 0, 59, 2).map(|(v, r)| {
                    self.tm.min = v;
                    r
                }),
                b'S' => field(s, 0, 61, 2).map(|(v, r)| {
                    self.tm.sec = v;
                    r
                }),
                b'T' => match self.parse(s, b"%H:%M:%S")? {
                    Some(r) => Some(r),
                    None => return Ok(None),
                },
                b'z' => Self::offset(s),
                b'Z' => {
                    let t = skip_space(s);
                    let n = t.iter().position(|&b| is_space(b)).unwrap_or(t.len());
                    Some(&t[n..])
                }
                b's' => self.epoch(s)?,
                b'%' => match skip_space(s).split_first() {
                    Some((b'%', r)) => Some(r),
                    _ => None,
                },
                _ => return Err(Fault::Decline),
            };
            match parsed {
                Some(r) => s = r,
                None => return Ok(None),
            }
        }
        Ok(Some(s))
    }

    /// `%z`: `Z`, or a sign and two or four digits (with an optional colon); jq ignores the offset.
    fn offset(s: &[u8]) -> Option<&[u8]> {
        let s = skip_space(s);
        let (sign, rest) = s.split_first()?;
        if *sign == b'Z' {
            return Some(rest);
        }
        if *sign != b'+' && *sign != b'-' {
            return None;
        }
        let digits = |s: &[u8], n: usize| s.len() >= n && s[..n].iter().all(u8::is_ascii_digit);
        if !digits(rest, 2) {
            return None;
        }
        let rest = &rest[2..];
        let rest = match rest {
            [b':', r @ ..] if digits(r, 2) => &r[2..],
            r if digits(r, 2) => &r[2..],
            r => r,
        };
        Some(rest)
    }

    /// `%s`: seconds since the epoch, broken down in UTC.
    fn epoch<'s>(&mut self, s: &'s [u8]) -> Result<Option<&'s [u8]>, Fault> {
        let s = skip_space(s);
        let (neg, digits) = match s.split_first() {
            Some((b'-', r)) => (true, r),
            _ => (false, s),
        };
        let n = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return Ok(None);
        }
        if n > 15 {
            return Err(Fault::Decline);
        }
        let text = std::str::from_utf8(&digits[..n]).map_err(|_| Fault::Decline)?;
        let secs: i64 = text.parse().map_err(|_| Fault::Decline)?;
        self.tm = Tm::gmtime(if neg { -secs } else { secs });
        self.from_epoch = true;
        Ok(Some(&digits[n..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn civil_days_round_trip() {
        for days in [-1_000_000, -1, 0, 59, 365, 19_782, 20_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn answers_as_jq_1_6() {
        let todate = |x: Value| strftime(&x, &json!("%Y-%m-%dT%H:%M:%SZ")).unwrap();
        assert_eq!(
            todate(json!(1_700_000_000_000i64)),
            json!("55840-11-08T22:13:20Z")
        );
        assert_eq!(todate(json!(-1)), json!("1969-12-31T23:59:59Z"));
        assert_eq!(todate(json!(1_700_000_000.5)), json!("2023-11-14T22:13:20Z"));
        assert_eq!(
            gmtime(&json!(1_700_000_000.5)).unwrap(),
            json!([2023, 10, 14, 22, 13, 20.5, 2, 317])
        );
        let parse = |s: &str, f: &str| strptime(&json!(s), &json!(f)).ok();
        assert_eq!(
            parse("2024-01-02T03:04:05Z junk", "%Y-%m-%dT%H:%M:%SZ"),
            Some(json!([2024, 0, 2, 3, 4, 5, 2, 1, " junk"]))
        );
        assert_eq!(
            parse("03:04", "%H:%M"),
            Some(json!([1900, 0, 0, 3, 4, 0, 8, 367]))
        );
        assert_eq!(parse("2024", "%Y"), Some(json!([2024, 0, 0, 0, 0, 0, 0, -1])));
        assert_eq!(
            parse("2024-02-30", "%Y-%m-%d"),
            Some(json!([2024, 1, 30, 0, 0, 0, 5, 60]))
        );
        assert_eq!(
            parse("2024-1-2", "%Y-%m-%d"),
            Some(json!([2024, 0, 2, 0, 0, 0, 2, 1]))
        );
        assert_eq!(parse("2024-13-01", "%Y-%m-%d"), None);
        assert_eq!(
            mktime(&json!([2024, 1, 30, 0, 0, 0, 5, 60])).unwrap(),
            json!(1_709_251_200)
        );
        assert!(matches!(
            mktime(&json!([2024, 0, 2, 3, 4, 5])),
            Err(Fault::Error(_))
        ));
        assert_eq!(
            strftime(
                &json!([2024, 0, 2, 3, 4, 5, 0, 0, "x"]),
                &json!("%j %a %A %b %e %I %p %y %Z %z %s")
            )
            .unwrap(),
            json!("001 Sun Sunday Jan  2 03 AM 24 UTC +0000 1704164645")
        );
    }
}
