//! What text staff may type into a household file: a maximum length and the characters allowed,
//! one [`TextRule`] per kind of field. Both doors — a JSON body and a spreadsheet row — become a
//! [`HouseholdInput`](super::HouseholdInput) and are checked by
//! [`validate_household`](super::validate_household), so both refuse the same text with the
//! same words.
//!
//! Control characters are refused everywhere (a NUL cannot be stored on PostgreSQL, and the
//! backends must hold the same data), except line breaks in fields that allow several lines. So
//! are the invisible controls that reorder text on screen (bidirectional overrides), which could
//! make a name read as another.

/// The limits of one kind of text field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    /// The most characters (not bytes) allowed.
    pub max_chars: usize,
    /// Whether line breaks are allowed (an address typed over two lines of a cell).
    pub lines: bool,
}

/// A person's name: the longest Chinese names, and transcribed minority names, fit.
pub const NAME: TextRule = TextRule {
    max_chars: 50,
    lines: false,
};
/// A home address.
pub const ADDRESS: TextRule = TextRule {
    max_chars: 200,
    lines: true,
};
/// A phone number: digits, `-`, `+` and spaces, at most 20 (an extension fits).
pub const PHONE: TextRule = TextRule {
    max_chars: 20,
    lines: false,
};
/// A township or community code (or name, in a spreadsheet).
pub const PLACE: TextRule = TextRule {
    max_chars: 50,
    lines: false,
};

/// A reason or note kept in a history (why a file changed, why a card was suspended).
pub const REASON: TextRule = TextRule {
    max_chars: 500,
    lines: true,
};

/// A reason given in a request body, checked against [`REASON`] as it is read: a body with a
/// longer one, or one with control characters, is refused before anything runs. Whether one
/// may be empty is the action's own rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Reason(String);

impl TryFrom<String> for Reason {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        check(&s, REASON).map_err(|e| format!("reason: {e}"))?;
        Ok(Self(s))
    }
}

impl Reason {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Reason {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// Whether `c` is refused by a field of that rule.
fn refused(c: char, rule: TextRule) -> bool {
    let line_break = c == '\n' || c == '\r';
    (c.is_control() && !(rule.lines && line_break))
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// What an error repeats of a value someone typed: its first 40 characters.
pub fn echo(s: &str) -> String {
    let mut t: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        t.push('…');
    }
    t
}

/// Checks `value` against `rule`: why not, when it breaks it (Chinese first, then English).
pub fn check(value: &str, rule: TextRule) -> Result<(), String> {
    if let Some((at, c)) = value.chars().enumerate().find(|&(_, c)| refused(c, rule)) {
        return Err(format!(
            "第{}个字符是不可见的控制字符（U+{:04X}），请删除 / character {} is a control character (U+{:04X}); remove it",
            at + 1,
            u32::from(c),
            at + 1,
            u32::from(c)
        ));
    }
    let chars = value.chars().count();
    if chars > rule.max_chars {
        return Err(format!(
            "最多{}个字符，此处有{} / at most {} characters, this has {}",
            rule.max_chars, chars, rule.max_chars, chars
        ));
    }
    Ok(())
}

/// Checks a phone number: [`PHONE`]'s limits, and only digits, `-`, `+` and spaces, with at
/// least one digit.
pub fn check_phone(value: &str) -> Result<(), String> {
    check(value, PHONE)?;
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | ' ');
    if !value.chars().all(allowed) || !value.chars().any(|c| c.is_ascii_digit()) {
        return Err(
            "电话号码只能包含数字、“-”、“+”和空格 / a phone number has only digits, '-', '+' and spaces"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_and_named() {
        let e = check("张\u{0}三", NAME).unwrap_err();
        assert!(e.contains("U+0000") && e.contains("character 2"), "{e}");
        assert!(check("张\u{7}三", NAME).is_err());
        assert!(check("张\u{85}三", NAME).is_err(), "C1 controls too");
        assert!(check("张\u{202E}三", NAME).is_err(), "bidi override");
        assert!(check("张三\n", NAME).is_err(), "a name is one line");
        assert!(
            check("幸福路1号\r\n3单元", ADDRESS).is_ok(),
            "an address may take two lines"
        );
        assert!(
            check("幸福路\t1号", ADDRESS).is_err(),
            "a tab is not a line break"
        );
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let fifty = "张".repeat(50);
        assert!(check(&fifty, NAME).is_ok(), "150 bytes, 50 characters");
        let e = check(&format!("{fifty}三"), NAME).unwrap_err();
        assert!(e.contains("at most 50 characters, this has 51"), "{e}");
    }

    #[test]
    fn phones_are_digits_and_separators() {
        for ok in ["13800138000", "0533-1234567", "+86 138 0013 8000"] {
            assert!(check_phone(ok).is_ok(), "{ok}");
        }
        for bad in ["abc", "--", "", "1".repeat(21).as_str(), "138\u{0}"] {
            assert!(check_phone(bad).is_err(), "{bad:?}");
        }
    }
}
