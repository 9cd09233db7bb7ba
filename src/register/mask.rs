//! Masking of personal data for roles and places that do not need it in full.

/// Masks a Chinese name, keeping its first and last character: 张秀兰 → 张*兰, 李娜 → 李*,
/// 欧阳娜娜 → 欧**娜.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".to_owned(),
        2 => format!("{}*", chars[0]),
        n => {
            let mut s = String::new();
            s.push(chars[0]);
            s.extend(std::iter::repeat_n('*', n - 2));
            s.push(chars[n - 1]);
            s
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_first_and_last_character() {
        assert_eq!(mask_name("张秀兰"), "张*兰");
        assert_eq!(mask_name("李娜"), "李*");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
        assert_eq!(mask_name("王"), "*");
    }

    #[test]
    fn phones_keep_prefix_and_last_four() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("12345"), "*****");
    }
}
