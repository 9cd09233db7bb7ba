//! The card payload: what a desk needs offline and nothing more, in a compact versioned binary
//! layout (see `LAYOUT.md`). Never the reason the family qualifies.

use crate::card::dates::{from_days, to_days};
use crate::card::error::CardError;
use crate::card::keyset::KeyId;
use chrono::NaiveDate;
use rand::{CryptoRng, RngCore};
use serde::Serialize;
use std::fmt;

/// The only payload format version this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes in a card serial (96 random bits: not guessable, not sequential).
pub const SERIAL_LEN: usize = 12;
/// Bytes of the fixed part of the payload, before the masked name.
pub const FIXED_LEN: usize = 34;
/// The longest masked name in bytes (first + up to 3 `*` + last, 4-byte UTF-8 at most each).
pub const MAX_NAME_BYTES: usize = 24;
/// The longest full name accepted, in characters (long minority names with `·` included).
pub const MAX_NAME_CHARS: usize = 30;

/// A random card serial, shown as the card number.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CardSerial(pub [u8; SERIAL_LEN]);

impl CardSerial {
    /// Draws a fresh serial from a cryptographic RNG.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut s = [0u8; SERIAL_LEN];
        rng.fill_bytes(&mut s);
        Self(s)
    }

    /// The serial as 24 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The serial in groups of four hex digits, as printed on the card.
    pub fn grouped(&self) -> String {
        let hex = self.to_hex();
        let groups: Vec<&str> = hex
            .as_bytes()
            .chunks(4)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        groups.join(" ")
    }
}

impl fmt::Debug for CardSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardSerial({})", self.to_hex())
    }
}

/// A holder's name with the middle masked: 张小兰 → 张*兰, 欧阳小兰 → 欧**兰, 张三 → 张*.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaskedName(String);

impl MaskedName {
    /// Masks a full name: first and last character kept, at most three `*` between them
    /// (so the payload stays small for long names), two-character names keep only the first.
    pub fn mask(full_name: &str) -> Result<Self, CardError> {
        let name = full_name.trim();
        let chars: Vec<char> = name.chars().collect();
        if chars.is_empty() {
            return Err(CardError::InvalidName("empty".into()));
        }
        if chars.len() > MAX_NAME_CHARS {
            return Err(CardError::InvalidName(format!(
                "longer than {MAX_NAME_CHARS} characters"
            )));
        }
        if let Some(c) = chars.iter().find(|c| c.is_control() || **c == '*') {
            return Err(CardError::InvalidName(format!("contains {c:?}")));
        }
        let mut masked = String::new();
        masked.push(chars[0]);
        let stars = chars.len().saturating_sub(2).clamp(1, 3);
        masked.extend(std::iter::repeat_n('*', stars));
        if chars.len() >= 3 {
            masked.push(chars[chars.len() - 1]);
        }
        Ok(Self(masked))
    }

    /// The masked name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The last four characters of the ID number (digits or `X`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdLastFour(pub [u8; 4]);

impl IdLastFour {
    /// Takes the last four characters of an ID number; a lowercase `x` is upper-cased.
    pub fn of_id_number(id_number: &str) -> Result<Self, CardError> {
        let chars: Vec<char> = id_number.trim().chars().collect();
        let tail = chars
            .len()
            .checked_sub(4)
            .map(|start| &chars[start..])
            .ok_or(CardError::InvalidIdNumber)?;
        let mut out = [0u8; 4];
        for (slot, c) in out.iter_mut().zip(tail) {
            let c = c.to_ascii_uppercase();
            if !(c.is_ascii_digit() || c == 'X') {
                return Err(CardError::InvalidIdNumber);
            }
            *slot = c as u8;
        }
        Ok(Self(out))
    }

    fn from_bytes(bytes: [u8; 4]) -> Option<Self> {
        bytes
            .iter()
            .all(|b| b.is_ascii_digit() || *b == b'X')
            .then_some(Self(bytes))
    }

    /// The four characters.
    pub fn as_str(&self) -> &str {
        // Constructors admit only ASCII digits and `X`.
        std::str::from_utf8(&self.0).unwrap_or("????")
    }
}

/// The signed content of a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPayload {
    /// The id of the key that signs it.
    pub key_id: KeyId,
    /// The random card serial.
    pub serial: CardSerial,
    /// The masked holder name.
    pub masked_name: MaskedName,
    /// The last four characters of the holder's ID number.
    pub id_last_four: IdLastFour,
    /// The issue date (the card is not valid before it).
    pub issued: NaiveDate,
    /// The last day the card is valid.
    pub expires: NaiveDate,
    /// The card's random index in the status list.
    pub status_index: u32,
}

/// Why payload bytes could not be decoded (all map to the `malformed` verdict).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Fewer bytes than the layout needs.
    #[error("truncated")]
    Truncated,
    /// More bytes than the layout allows.
    #[error("extra bytes after the signature")]
    ExtraBytes,
    /// A version this code does not know.
    #[error("unknown format version {0}")]
    UnknownVersion(u8),
    /// The masked name is empty, too long or not UTF-8.
    #[error("bad masked name")]
    BadName,
    /// The ID tail is not four digits or `X`.
    #[error("bad ID last four")]
    BadIdTail,
    /// The expiry is before the issue date.
    #[error("expiry before issue date")]
    BadDates,
}

impl CardPayload {
    /// Encodes the payload (without signature) in the version-1 layout.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CardError> {
        let issued = to_days(self.issued)
            .ok_or_else(|| CardError::InvalidDates("issue date outside 2000..2179".into()))?;
        let expires = to_days(self.expires)
            .ok_or_else(|| CardError::InvalidDates("expiry outside 2000..2179".into()))?;
        if expires < issued {
            return Err(CardError::InvalidDates("expiry before issue date".into()));
        }
        let name = self.masked_name.0.as_bytes();
        let name_len = u8::try_from(name.len())
            .ok()
            .filter(|n| (1..=MAX_NAME_BYTES as u8).contains(n))
            .ok_or_else(|| CardError::InvalidName("masked name too long".into()))?;
        let mut out = Vec::with_capacity(FIXED_LEN + name.len());
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&self.key_id.0);
        out.extend_from_slice(&self.serial.0);
        out.extend_from_slice(&issued.to_be_bytes());
        out.extend_from_slice(&expires.to_be_bytes());
        out.extend_from_slice(&self.status_index.to_be_bytes());
        out.extend_from_slice(&self.id_last_four.0);
        out.push(name_len);
        out.extend_from_slice(name);
        Ok(out)
    }

    /// Splits `payload ‖ signature` bytes, decoding the payload. Returns the payload, the
    /// exact payload bytes (what was signed) and the signature.
    pub fn split_signed(bytes: &[u8]) -> Result<(Self, &[u8], [u8; 64]), PayloadError> {
        let version = *bytes.first().ok_or(PayloadError::Truncated)?;
        if version != FORMAT_VERSION {
            return Err(PayloadError::UnknownVersion(version));
        }
        let fixed = bytes.get(..FIXED_LEN).ok_or(PayloadError::Truncated)?;
        let name_len = usize::from(fixed[FIXED_LEN - 1]);
        if name_len == 0 || name_len > MAX_NAME_BYTES {
            return Err(PayloadError::BadName);
        }
        let payload_len = FIXED_LEN + name_len;
        let total = payload_len + 64;
        if bytes.len() < total {
            return Err(PayloadError::Truncated);
        }
        if bytes.len() > total {
            return Err(PayloadError::ExtraBytes);
        }
        let (payload_bytes, sig) = bytes.split_at(payload_len);
        let name =
            std::str::from_utf8(&payload_bytes[FIXED_LEN..]).map_err(|_| PayloadError::BadName)?;
        let arr = |range: std::ops::Range<usize>| -> [u8; 4] {
            let mut a = [0u8; 4];
            a.copy_from_slice(&fixed[range]);
            a
        };
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&fixed[1..9]);
        let mut serial = [0u8; SERIAL_LEN];
        serial.copy_from_slice(&fixed[9..21]);
        let issued = u16::from_be_bytes([fixed[21], fixed[22]]);
        let expires = u16::from_be_bytes([fixed[23], fixed[24]]);
        if expires < issued {
            return Err(PayloadError::BadDates);
        }
        let mut signature = [0u8; 64];
        signature.copy_from_slice(sig);
        let payload = Self {
            key_id: KeyId(key_id),
            serial: CardSerial(serial),
            masked_name: MaskedName(name.to_owned()),
            id_last_four: IdLastFour::from_bytes(arr(29..33)).ok_or(PayloadError::BadIdTail)?,
            issued: from_days(issued),
            expires: from_days(expires),
            status_index: u32::from_be_bytes(arr(25..29)),
        };
        Ok((payload, payload_bytes, signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_masked_in_the_middle() {
        let m = |s: &str| MaskedName::mask(s).map(|m| m.0);
        assert_eq!(m("张小兰").ok().as_deref(), Some("张*兰"));
        assert_eq!(m("张三").ok().as_deref(), Some("张*"));
        assert_eq!(m("欧阳小兰").ok().as_deref(), Some("欧**兰"));
        assert_eq!(m("阿依古丽·买买提").ok().as_deref(), Some("阿***提"));
        assert!(m("  ").is_err());
        assert!(m("张*兰").is_err());
    }

    #[test]
    fn id_tail_takes_last_four_and_uppercases_x() {
        assert_eq!(
            IdLastFour::of_id_number("11010519491231002x")
                .map(|t| t.0)
                .ok(),
            Some(*b"002X")
        );
        assert!(IdLastFour::of_id_number("12a4").is_err());
        assert!(IdLastFour::of_id_number("123").is_err());
    }
}
