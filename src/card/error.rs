//! Errors raised while issuing cards or managing keys (verification never errors: it answers
//! with a [`crate::card::verify::Verdict`]).

use std::path::PathBuf;

/// Everything that can go wrong when issuing a card, managing keys or rendering a PDF.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// A key directory already holds keys, so `generate` refuses to overwrite them.
    #[error("key directory {0} already holds keys; use `keys rotate` instead")]
    KeysExist(PathBuf),
    /// No key directory metadata was found.
    #[error("no keys in {0}; run `keys generate` first")]
    NoKeys(PathBuf),
    /// There is no active signing key (all retired or compromised).
    #[error("no active signing key; run `keys rotate`")]
    NoActiveKey,
    /// The named key id is not in the store.
    #[error("unknown key id {0}")]
    UnknownKey(String),
    /// The key store metadata or a secret key file is unreadable or inconsistent.
    #[error("key store is corrupt: {0}")]
    CorruptKeyStore(String),
    /// A requested transition of a key's status is not allowed.
    #[error("key {key_id} cannot go from {from} to {to}")]
    BadKeyTransition {
        /// The key id.
        key_id: String,
        /// Its current status.
        from: String,
        /// The requested status.
        to: String,
    },
    /// The holder's name is empty or too long to fit a card.
    #[error("invalid holder name: {0}")]
    InvalidName(String),
    /// The ID number does not end in four characters of 0-9 or X.
    #[error("invalid ID number: it must end in four characters 0-9 or X")]
    InvalidIdNumber,
    /// The card dates are inconsistent or outside what the payload or key can carry.
    #[error("invalid card dates: {0}")]
    InvalidDates(String),
    /// The QR text would need a QR version above the limit.
    #[error("QR text needs version {0}, above the limit of 10 at level M")]
    QrTooLarge(i16),
    /// The QR encoder refused the data.
    #[error("QR encoding failed: {0}")]
    Qr(String),
    /// A status-list index is outside the list.
    #[error("status-list index {0} is outside the list")]
    StatusIndexOutOfRange(u32),
    /// The card template is invalid; the message names the field.
    #[error("card template: {0}")]
    Template(String),
    /// A text to print has a character the configured font lacks.
    #[error("the font has no glyph for {ch:?} (U+{code:04X}) in {field}; use a font that has it")]
    MissingGlyph {
        /// The missing character.
        ch: char,
        /// Its code point (for characters that render as boxes in the terminal).
        code: u32,
        /// Which text contains it (e.g. `holder name`).
        field: String,
    },
    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl CardError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
