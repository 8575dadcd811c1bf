//! Slot labels (`01`, `05a`) and waves (`present`, `W2.K1`…).

use std::cmp::Ordering;
use std::fmt;

/// A slot number with an optional one-letter sub-slot (`05a`).
///
/// Equality and order ignore how the number was written (`5a` == `05a`);
/// [`SlotLabel::display`] keeps the written form of sub-slots.
#[derive(Debug, Clone)]
pub struct SlotLabel {
    number: u32,
    suffix: Option<char>,
    written: String,
    from_int: bool,
}

impl SlotLabel {
    /// Parses `NN` or `NNx` (1–3 digits, optional lower-case letter).
    pub fn parse(s: &str) -> Option<SlotLabel> {
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() || digits.len() > 3 {
            return None;
        }
        let rest = &s[digits.len()..];
        let suffix = match rest.len() {
            0 => None,
            1 => Some(rest.chars().next().filter(char::is_ascii_lowercase)?),
            _ => return None,
        };
        Some(SlotLabel {
            number: digits.parse().ok()?,
            suffix,
            written: s.to_string(),
            from_int: false,
        })
    }

    /// A slot written as a YAML integer.
    pub fn from_int(n: u64) -> Option<SlotLabel> {
        if n > 999 {
            return None;
        }
        Some(SlotLabel {
            number: u32::try_from(n).ok()?,
            suffix: None,
            written: n.to_string(),
            from_int: true,
        })
    }

    /// The file-prefix form: number zero-padded to two digits plus suffix (`05a`).
    pub fn canonical(&self) -> String {
        match self.suffix {
            Some(c) => format!("{:02}{c}", self.number),
            None => format!("{:02}", self.number),
        }
    }

    /// How the DAG printout shows it: numbers zero-padded, sub-slots as written.
    pub fn display(&self) -> String {
        if self.from_int || self.suffix.is_none() {
            self.canonical()
        } else {
            self.written.clone()
        }
    }
}

impl PartialEq for SlotLabel {
    fn eq(&self, other: &Self) -> bool {
        (self.number, self.suffix) == (other.number, other.suffix)
    }
}
impl Eq for SlotLabel {}
impl PartialOrd for SlotLabel {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SlotLabel {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.number, self.suffix).cmp(&(other.number, other.suffix))
    }
}

/// The slot prefix of a slot file name `<slot>-<x>.yaml`: two digits and an
/// optional lower-case letter, then `-`. Returns the prefix and `<x>`.
pub fn file_prefix(file_name: &str) -> Option<(&str, &str)> {
    let stem = file_name.strip_suffix(".yaml")?;
    let (prefix, rest) = stem.split_once('-')?;
    let b = prefix.as_bytes();
    let ok = match b.len() {
        2 => b.iter().all(u8::is_ascii_digit),
        3 => b[..2].iter().all(u8::is_ascii_digit) && b[2].is_ascii_lowercase(),
        _ => false,
    };
    (ok && !rest.is_empty()).then_some((prefix, rest))
}

/// A rollout wave of the expected DAG, in printing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Wave {
    /// On disk now.
    Present,
    /// Wave 2, batch K1.
    W2K1,
    /// Wave 2, batch K2.
    W2K2,
    /// Wave 2, batch K3.
    W2K3,
    /// Wave 2, batch K4.
    W2K4,
}

impl Wave {
    /// Every wave in printing order.
    pub const ALL: [Wave; 5] = [
        Wave::Present,
        Wave::W2K1,
        Wave::W2K2,
        Wave::W2K3,
        Wave::W2K4,
    ];

    /// The spelling used in `expected-bootstrap-deps.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Wave::Present => "present",
            Wave::W2K1 => "W2.K1",
            Wave::W2K2 => "W2.K2",
            Wave::W2K3 => "W2.K3",
            Wave::W2K4 => "W2.K4",
        }
    }

    /// Parses the exact spelling.
    pub fn parse(s: &str) -> Option<Wave> {
        Wave::ALL.into_iter().find(|w| w.as_str() == s)
    }
}

impl fmt::Display for Wave {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let s = SlotLabel::parse("5a").unwrap();
        assert_eq!(s.canonical(), "05a");
        assert_eq!(s.display(), "5a");
        assert_eq!(s, SlotLabel::parse("05a").unwrap());
        assert_eq!(SlotLabel::parse("7").unwrap().display(), "07");
        assert_eq!(SlotLabel::from_int(56).unwrap().canonical(), "56");
        assert_eq!(SlotLabel::from_int(3).unwrap().display(), "03");
        assert_eq!(SlotLabel::parse("100").unwrap().canonical(), "100");
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "a", "05A", "05ab", "1234", "-1", "5-", " 5"] {
            assert!(SlotLabel::parse(bad).is_none(), "{bad}");
        }
        assert!(SlotLabel::from_int(1000).is_none());
    }

    #[test]
    fn orders_numerically_then_by_suffix() {
        let mut v: Vec<SlotLabel> = ["16", "05a", "5", "100", "02"]
            .iter()
            .map(|s| SlotLabel::parse(s).unwrap())
            .collect();
        v.sort();
        let c: Vec<String> = v.iter().map(SlotLabel::canonical).collect();
        assert_eq!(c, ["02", "05", "05a", "16", "100"]);
    }

    #[test]
    fn file_prefixes() {
        assert_eq!(file_prefix("01-cilium.yaml"), Some(("01", "cilium")));
        assert_eq!(
            file_prefix("05a-reflector-x.yaml"),
            Some(("05a", "reflector-x"))
        );
        for bad in [
            "1-cilium.yaml",
            "001-x.yaml",
            "01-.yaml",
            "01cilium.yaml",
            "01-x.yml",
            "0A-x.yaml",
            "kustomization.yaml",
        ] {
            assert_eq!(file_prefix(bad), None, "{bad}");
        }
    }

    #[test]
    fn waves_round_trip_in_order() {
        for w in Wave::ALL {
            assert_eq!(Wave::parse(w.as_str()), Some(w));
            assert_eq!(w.to_string(), w.as_str());
        }
        assert!(Wave::ALL.windows(2).all(|p| p[0] < p[1]));
        assert_eq!(Wave::parse("W2.K5"), None);
        assert_eq!(Wave::parse("Present"), None);
    }
}
