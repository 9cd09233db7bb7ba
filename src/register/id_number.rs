//! The 18-digit resident identity number (公民身份号码, GB 11643-1999).

use std::fmt;

use chrono::NaiveDate;

use super::Sex;

/// A resident ID number whose length, characters, embedded birth date and check digit are valid.
///
/// Its `Debug` and `Display` show only the masked form, so it cannot leak into a log by accident;
/// the full number is reached through [`IdNumber::as_str`] only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

/// Why a text is not a resident ID number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    /// Not 18 characters long.
    #[error("must be 18 characters (身份证号码应为18位), got {0}")]
    Length(usize),
    /// A character other than a digit (or a final X).
    #[error("character {position} is not a digit (第{position}位不是数字)")]
    Character {
        /// 1-based position of the bad character.
        position: usize,
    },
    /// The embedded birth date (characters 7–14) is not a real date.
    #[error("characters 7-14 are not a valid birth date (出生日期无效)")]
    BirthDate,
    /// The last character does not match the GB 11643 check digit.
    #[error("check digit is wrong: expected {expected} (校验码错误，应为{expected})")]
    CheckDigit {
        /// The check character the first 17 digits call for.
        expected: char,
    },
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// The GB 11643 check character for the first 17 digits of an ID number.
pub fn check_char(first17: &[u8; 17]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK_CHARS[(sum % 11) as usize]
}

impl IdNumber {
    /// Parses and validates an ID number; surrounding spaces are ignored and a final `x` is
    /// accepted as `X` (Excel and hand entry produce both).
    pub fn parse(text: &str) -> Result<Self, IdNumberError> {
        let text = text.trim();
        let chars: Vec<char> = text.chars().collect();
        if chars.len() != 18 {
            return Err(IdNumberError::Length(chars.len()));
        }
        for (i, c) in chars.iter().enumerate().take(17) {
            if !c.is_ascii_digit() {
                return Err(IdNumberError::Character { position: i + 1 });
            }
        }
        let last = chars[17].to_ascii_uppercase();
        if !(last.is_ascii_digit() || last == 'X') {
            return Err(IdNumberError::Character { position: 18 });
        }
        let bytes = text.as_bytes();
        let born = std::str::from_utf8(&bytes[6..14])
            .ok()
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y%m%d").ok())
            .ok_or(IdNumberError::BirthDate)?;
        if born.year_ce().1 < 1900 {
            return Err(IdNumberError::BirthDate);
        }
        let mut first17 = [0u8; 17];
        first17.copy_from_slice(&bytes[..17]);
        let expected = check_char(&first17);
        if last != expected {
            return Err(IdNumberError::CheckDigit { expected });
        }
        let mut s = text[..17].to_owned();
        s.push(last);
        Ok(Self(s))
    }

    /// The full number. Only for roles that need it, never for logs.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The masked form shown to everyone else: region prefix and last four, e.g. `3703**********1234`.
    pub fn masked(&self) -> String {
        format!("{}**********{}", &self.0[..4], &self.0[14..])
    }

    /// The last four characters, as printed in a card's QR.
    pub fn last4(&self) -> &str {
        &self.0[14..]
    }

    /// The birth date encoded in characters 7–14.
    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").expect("validated in parse")
    }

    /// The sex encoded in character 17 (odd: male, even: female).
    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

use chrono::Datelike;

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_valid_number_and_normalises_x() {
        // 11010519491231002X is the standard's own worked example.
        let id = IdNumber::parse(" 11010519491231002x ").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.masked(), "1101**********002X");
        assert_eq!(format!("{id:?}"), "IdNumber(1101**********002X)");
    }

    #[test]
    fn refuses_a_wrong_check_digit_naming_the_right_one() {
        assert_eq!(
            IdNumber::parse("110105194912310021"),
            Err(IdNumberError::CheckDigit { expected: 'X' })
        );
    }

    #[test]
    fn refuses_bad_length_characters_and_dates() {
        assert_eq!(IdNumber::parse("1234"), Err(IdNumberError::Length(4)));
        assert_eq!(
            IdNumber::parse("11010519491231A02X"),
            Err(IdNumberError::Character { position: 15 })
        );
        // 1949-02-30 does not exist.
        assert_eq!(
            IdNumber::parse("110105194902300021"),
            Err(IdNumberError::BirthDate)
        );
    }
}
