//! Masking of personal data for roles and places that do not need it in full. Names are masked
//! by the card's rule (`card::MaskedName`), so a desk sees one form everywhere.

use crate::auth::{Caller, StaffRole};
use crate::card::MaskedName;

/// A name as `caller` may see it: masked for the auditor, whole for those who serve the family.
pub fn shown_name(caller: &Caller, name: &str) -> String {
    if caller.role == StaffRole::Auditor {
        MaskedName::mask(name).map_or_else(|_| "*".to_owned(), |m| m.as_str().to_owned())
    } else {
        name.to_owned()
    }
}

/// Masks a phone number, keeping the first three and last four digits: 138****5678.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let n = chars.len();
    let mut s: String = chars[..3].iter().collect();
    s.extend(std::iter::repeat_n('*', n - 7));
    s.extend(&chars[n - 4..]);
    s
}

/// The last four characters of an ID number: what lists and the desk show of it.
pub fn last_four(id_number: &str) -> String {
    let n = id_number.chars().count();
    id_number.chars().skip(n.saturating_sub(4)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_keep_prefix_and_last_four() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("12345"), "*****");
    }

    #[test]
    fn id_numbers_show_their_last_four() {
        assert_eq!(last_four("370303197001011234"), "1234");
        assert_eq!(last_four("12"), "12");
    }
}
