//! The 计划生育特殊家庭方便就医卡: keys, the signed QR payload, the status list, verification,
//! and the printable card PDF.
//!
//! Everything here is pure (no database, no HTTP): the service and the CLI pass in keys, dates,
//! revocation state and randomness, so the same code path verifies a card online and offline.
//! The byte layout of the QR text is documented in `LAYOUT.md` next to this file.

#![warn(missing_docs)]

pub mod dates;
pub mod error;
pub mod keys;
pub mod keyset;
pub mod payload;
pub mod pdf;
pub mod qr;
pub mod status;
pub mod template;
pub mod verify;

pub use error::CardError;
pub use keys::{CardSigner, KeyStore};
pub use keyset::{KeyEntry, KeyId, KeySet, KeyStatus};
pub use payload::{CardPayload, CardSerial, IdLastFour, MaskedName};
pub use status::{CardState, SignedStatusList, StatusList, StatusListError};
pub use verify::{
    check_signature, cli_verify, verify, SignatureChecked, StatusSource, Verdict, Verification,
    VerifiedTexts,
};
