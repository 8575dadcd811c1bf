//! Values as Terraform's `cty` sees them, reduced to what `templatefile()`
//! and the module's locals need.
//!
//! * Objects and maps are one kind, always key-sorted bytewise (`B` < `a`),
//!   which is the order Terraform iterates and encodes them in.
//! * Lists and tuples are one kind.
//! * Strings are NFC-normalised on construction, as `cty.StringVal` does.
//! * Numbers are exact integers (64-bit range) or fractional literals; see
//!   [`Number`].

use std::collections::BTreeMap;
use std::fmt;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// A Terraform value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string (always NFC; build it with [`Value::string`]).
    String(String),
    /// A list or tuple.
    List(Vec<Value>),
    /// A map or object, key-sorted.
    Object(BTreeMap<String, Value>),
}

impl Value {
    /// A string value, NFC-normalised as Terraform normalises every string.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(nfc(s.into()))
    }

    /// A short name of the value's type for messages (`string`, `number`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Object(_) => "object",
        }
    }

    /// `true` for strings, numbers and bools.
    pub fn is_primitive(&self) -> bool {
        matches!(self, Value::Bool(_) | Value::Number(_) | Value::String(_))
    }

    /// Terraform's conversion to string for primitives: numbers in shortest
    /// decimal form, bools as `true`/`false`. `None` for null and collections.
    pub fn as_string_lossless(&self) -> Option<String> {
        match self {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// Terraform's conversion to bool (`"true"`/`"false"` strings convert).
    pub fn as_bool_converted(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            _ => None,
        }
    }

    /// Terraform's conversion to number (decimal strings convert).
    pub fn as_number_converted(&self) -> Option<Number> {
        match self {
            Value::Number(n) => Some(*n),
            Value::String(s) => Number::parse(s),
            _ => None,
        }
    }
}

/// NFC-normalises a string, cheaply when it already is.
pub fn nfc(s: String) -> String {
    if is_nfc_quick(s.chars()) == IsNormalized::Yes {
        s
    } else {
        s.nfc().collect()
    }
}

/// A Terraform number, as an exact decimal.
///
/// Terraform computes with 512-bit binary floats and prints the shortest
/// decimal that round-trips at that precision, which for every short decimal
/// is the exact decimal itself (`0.1 + 0.2` prints `0.3`). An exact decimal
/// therefore reproduces Terraform wherever a result terminates; division whose
/// result does not terminate (`10 / 3`) fails instead of diverging. Values are
/// limited to 64-bit integer magnitude; negative zero is kept (`-0` prints as
/// `-0`, as in Terraform).
#[derive(Debug, Clone, Copy, Default)]
pub struct Number {
    /// value = mantissa / 10^scale, normalised (no trailing zero digits).
    mantissa: i128,
    scale: u32,
    negative_zero: bool,
}

const MAX_SCALE: u32 = 30;

/// Why an arithmetic result cannot be represented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberError {
    /// Beyond 64-bit magnitude or 30 decimal places.
    OutOfRange,
    /// A division whose decimal expansion does not terminate.
    NonTerminating,
    /// Division or modulo by zero.
    DivisionByZero,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumberError::OutOfRange => {
                "number is out of the range render-cloudinit represents exactly (64-bit integers, 30 decimal places)"
            }
            NumberError::NonTerminating => {
                "division result has no finite decimal form; Terraform would print a 512-bit approximation that render-cloudinit does not reproduce"
            }
            NumberError::DivisionByZero => "can't divide by zero",
        })
    }
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

impl Number {
    /// An integer, or `None` beyond 64-bit magnitude.
    pub fn int(i: i128) -> Option<Number> {
        Number::new(i, 0).ok()
    }

    fn new(mantissa: i128, scale: u32) -> Result<Number, NumberError> {
        let (mut m, mut s) = (mantissa, scale);
        while s > 0 && m % 10 == 0 {
            m /= 10;
            s -= 1;
        }
        if s > MAX_SCALE {
            return Err(NumberError::OutOfRange);
        }
        let int_part = m / pow10(s).ok_or(NumberError::OutOfRange)?;
        if !(i128::from(i64::MIN)..=i128::from(u64::MAX)).contains(&int_part) {
            return Err(NumberError::OutOfRange);
        }
        Ok(Number {
            mantissa: m,
            scale: s,
            negative_zero: false,
        })
    }

    fn negative_zero() -> Number {
        Number {
            mantissa: 0,
            scale: 0,
            negative_zero: true,
        }
    }

    /// Converts an `f64` through its shortest decimal form (what the literal
    /// was written as). `None` for NaN, infinities and out-of-range values.
    pub fn from_f64(f: f64) -> Option<Number> {
        if !f.is_finite() {
            return None;
        }
        if f == 0.0 && f.is_sign_negative() {
            return Some(Number::negative_zero());
        }
        Number::parse(&format!("{f}"))
    }

    /// Parses a decimal number the way Terraform converts a string to a
    /// number (`"5"`, `"-1.5"`, `"+2"`, `"1e3"`).
    pub fn parse(s: &str) -> Option<Number> {
        let t = s.trim();
        let (negative, body) = match t.as_bytes().first()? {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        let (digits, exponent) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], body[i + 1..].parse::<i32>().ok()?),
            None => (body, 0),
        };
        let (int_digits, frac_digits) = digits.split_once('.').unwrap_or((digits, ""));
        if int_digits.is_empty() && frac_digits.is_empty()
            || !int_digits
                .bytes()
                .chain(frac_digits.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let all: String = format!("{int_digits}{frac_digits}");
        let all = all.trim_start_matches('0');
        let mut mantissa: i128 = if all.is_empty() { 0 } else { all.parse().ok()? };
        let mut scale = i64::try_from(frac_digits.len()).ok()? - i64::from(exponent);
        if scale < 0 {
            mantissa = mantissa.checked_mul(pow10(u32::try_from(-scale).ok()?)?)?;
            scale = 0;
        }
        if negative {
            if mantissa == 0 {
                return Some(Number::negative_zero());
            }
            mantissa = -mantissa;
        }
        Number::new(mantissa, u32::try_from(scale).ok()?).ok()
    }

    /// The value as an integer, when it is one.
    pub fn as_int(self) -> Option<i128> {
        (self.scale == 0).then_some(self.mantissa)
    }

    /// `true` for zero of either sign.
    pub fn is_zero(self) -> bool {
        self.mantissa == 0
    }

    fn aligned(a: Number, b: Number) -> Option<(i128, i128, u32)> {
        let scale = a.scale.max(b.scale);
        let am = a.mantissa.checked_mul(pow10(scale - a.scale)?)?;
        let bm = b.mantissa.checked_mul(pow10(scale - b.scale)?)?;
        Some((am, bm, scale))
    }

    /// `a + b`.
    pub fn checked_add(self, other: Number) -> Result<Number, NumberError> {
        if self.negative_zero && other.negative_zero {
            return Ok(Number::negative_zero());
        }
        let (a, b, s) = Number::aligned(self, other).ok_or(NumberError::OutOfRange)?;
        Number::new(a.checked_add(b).ok_or(NumberError::OutOfRange)?, s)
    }

    /// `a - b`.
    pub fn checked_sub(self, other: Number) -> Result<Number, NumberError> {
        self.checked_add(other.negated())
    }

    /// `-a` (negating zero gives negative zero, as Go's big.Float does).
    pub fn negated(self) -> Number {
        if self.mantissa == 0 {
            return if self.negative_zero {
                Number::default()
            } else {
                Number::negative_zero()
            };
        }
        Number {
            mantissa: -self.mantissa,
            ..self
        }
    }

    fn is_negative(self) -> bool {
        self.mantissa < 0 || self.negative_zero
    }

    /// `a * b`.
    pub fn checked_mul(self, other: Number) -> Result<Number, NumberError> {
        let m = self
            .mantissa
            .checked_mul(other.mantissa)
            .ok_or(NumberError::OutOfRange)?;
        if m == 0 {
            return Ok(if self.is_negative() != other.is_negative() {
                Number::negative_zero()
            } else {
                Number::default()
            });
        }
        Number::new(m, self.scale + other.scale)
    }

    /// `a / b`, exact or an error.
    pub fn checked_div(self, other: Number) -> Result<Number, NumberError> {
        if other.is_zero() {
            return Err(NumberError::DivisionByZero);
        }
        let (a, b, _) = Number::aligned(self, other).ok_or(NumberError::OutOfRange)?;
        if a == 0 {
            return Ok(if self.is_negative() != other.is_negative() {
                Number::negative_zero()
            } else {
                Number::default()
            });
        }
        // a/b terminates iff the reduced denominator has only factors 2 and 5.
        for extra in 0..=MAX_SCALE {
            let scaled = a.checked_mul(pow10(extra).ok_or(NumberError::OutOfRange)?);
            let Some(scaled) = scaled else { break };
            if scaled % b == 0 {
                return Number::new(scaled / b, extra);
            }
        }
        Err(NumberError::NonTerminating)
    }

    /// `a % b` with the sign of `a` (Go's big.Float modulo as cty computes it).
    pub fn checked_rem(self, other: Number) -> Result<Number, NumberError> {
        if other.is_zero() {
            return Err(NumberError::DivisionByZero);
        }
        let (a, b, s) = Number::aligned(self, other).ok_or(NumberError::OutOfRange)?;
        Number::new(a % b, s)
    }
}

impl From<i64> for Number {
    fn from(i: i64) -> Self {
        Number {
            mantissa: i128::from(i),
            scale: 0,
            negative_zero: false,
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.mantissa == other.mantissa && self.scale == other.scale
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        let (a, b, _) = Number::aligned(*self, *other)?;
        a.partial_cmp(&b)
    }
}

/// Terraform's number-to-string conversion (`big.Float.Text('f', -1)`):
/// plain decimal, no exponent, `1.0` → `1`, negative zero → `-0`.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative_zero {
            return f.write_str("-0");
        }
        if self.scale == 0 {
            return write!(f, "{}", self.mantissa);
        }
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let padded = if digits.len() <= scale {
            format!("{}{digits}", "0".repeat(scale - digits.len() + 1))
        } else {
            digits
        };
        let (int, frac) = padded.split_at(padded.len() - scale);
        let sign = if self.mantissa < 0 { "-" } else { "" };
        write!(f, "{sign}{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    #[test]
    fn numbers_print_like_terraform() {
        let cases: &[(&str, &str)] = &[
            ("1", "1"),
            ("1.0", "1"),
            ("1.5", "1.5"),
            ("+2", "2"),
            ("1e3", "1000"),
            ("0.1", "0.1"),
            ("-0.0", "-0"),
            ("-1.25", "-1.25"),
            ("0.05", "0.05"),
            ("9007199254740993", "9007199254740993"),
            ("18446744073709551615", "18446744073709551615"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("1.5e-7", "0.00000015"),
        ];
        for (input, want) in cases {
            assert_eq!(n(input).to_string(), *want, "{input}");
        }
        assert_eq!(Number::from_f64(0.1).unwrap().to_string(), "0.1");
        assert_eq!(Number::from_f64(-0.0).unwrap().to_string(), "-0");
    }

    #[test]
    fn arithmetic_is_exact_like_terraform() {
        // Recorded from Terraform 1.11: 0.1+0.2 = 0.3, 7/2 = 3.5, 5 % -3 = 2, -0 = -0.
        assert_eq!(n("0.1").checked_add(n("0.2")).unwrap().to_string(), "0.3");
        assert_eq!(n("7").checked_div(n("2")).unwrap().to_string(), "3.5");
        assert_eq!(n("1").checked_div(n("8")).unwrap().to_string(), "0.125");
        assert_eq!(n("5").checked_rem(n("-3")).unwrap().to_string(), "2");
        assert_eq!(n("-5").checked_rem(n("3")).unwrap().to_string(), "-2");
        assert_eq!(n("0").negated().to_string(), "-0");
        assert_eq!(n("3").checked_sub(n("5")).unwrap().to_string(), "-2");
        assert_eq!(n("1.5").checked_mul(n("4")).unwrap().to_string(), "6");
        assert_eq!(
            n("10").checked_div(n("3")),
            Err(NumberError::NonTerminating)
        );
        assert_eq!(n("1").checked_div(n("0")), Err(NumberError::DivisionByZero));
        assert_eq!(n("1").checked_rem(n("0")), Err(NumberError::DivisionByZero));
        assert_eq!(
            n("18446744073709551615").checked_add(n("1")),
            Err(NumberError::OutOfRange)
        );
    }

    #[test]
    fn numbers_beyond_64_bits_are_rejected() {
        assert!(Number::parse("18446744073709551616").is_none());
        assert!(Number::parse("-9223372036854775809").is_none());
        assert!(Number::from_f64(1e20).is_none());
        assert!(Number::from_f64(f64::NAN).is_none());
    }

    #[test]
    fn non_numeric_strings_do_not_convert() {
        for s in [
            "", "0x10", "abc", "1_000", " ", "-", ".", "1e", "1.2.3", "Inf",
        ] {
            assert!(Number::parse(s).is_none(), "{s:?}");
        }
    }

    #[test]
    fn strings_are_nfc_normalised() {
        // "e" + COMBINING ACUTE ACCENT composes to U+00E9.
        assert_eq!(Value::string("e\u{301}"), Value::String("\u{e9}".into()));
    }

    #[test]
    fn conversions_follow_terraform() {
        assert_eq!(Value::string("true").as_bool_converted(), Some(true));
        assert_eq!(Value::string("yes").as_bool_converted(), None);
        assert_eq!(
            Value::Bool(false).as_string_lossless().as_deref(),
            Some("false")
        );
        assert_eq!(
            Value::string("42").as_number_converted(),
            Some(Number::from(42))
        );
        assert_eq!(Value::Null.as_string_lossless(), None);
        assert_eq!(Value::List(vec![]).as_string_lossless(), None);
    }

    #[test]
    fn comparisons_are_by_value() {
        assert_eq!(n("0"), n("-0"));
        assert!(n("1") < n("1.5"));
        assert_eq!(n("2.50"), n("2.5"));
    }
}
