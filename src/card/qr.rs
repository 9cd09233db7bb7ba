//! The QR text `GC1:<base64url(payload ‖ signature)>`: issuing (signing) and decoding, and the
//! QR symbol itself (error correction M, version 10 at most).

use crate::card::error::CardError;
use crate::card::keys::CardSigner;
use crate::card::payload::{CardPayload, CardSerial, IdLastFour, MaskedName, PayloadError};
use crate::card::status::STATUS_LIST_SIZE;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::NaiveDate;
use qrcode::{EcLevel, QrCode, Version};
use rand::{CryptoRng, RngCore};

/// The prefix of every card's QR text.
pub const PREFIX: &str = "GC1:";
/// Domain separation: the signature covers these bytes followed by the payload, so a card
/// signature can never be replayed as a status-list signature or the reverse.
pub const CARD_SIGNING_CONTEXT: &[u8] = b"greenchannel/card/v1\n";
/// The largest QR version a card may need at error correction M.
pub const MAX_QR_VERSION: i16 = 10;

/// What the office knows when it issues a card; the rest is drawn at random.
#[derive(Debug, Clone)]
pub struct CardRequest<'a> {
    /// The holder's full name (masked in the QR, printed in full on the card).
    pub full_name: &'a str,
    /// The holder's ID number (only its last four characters go into the QR).
    pub id_number: &'a str,
    /// The issue date.
    pub issued: NaiveDate,
    /// The last valid day, already capped by the rule set's window.
    pub expires: NaiveDate,
    /// The card's status-list index, random and unique, allocated by the caller
    /// (see [`random_status_index`]).
    pub status_index: u32,
}

/// A signed card: its payload and its QR text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCard {
    /// The signed payload.
    pub payload: CardPayload,
    /// The full QR text, `GC1:...`.
    pub text: String,
}

/// A QR text split into its parts, signature not yet checked.
#[derive(Debug, Clone)]
pub struct SignedCard {
    /// The decoded payload.
    pub payload: CardPayload,
    /// The signed message: [`CARD_SIGNING_CONTEXT`] followed by the payload bytes.
    pub message: Vec<u8>,
    /// The 64-byte Ed25519 signature.
    pub signature: [u8; 64],
}

/// Draws a random status-list index (the caller must retry on a collision with a used one).
pub fn random_status_index<R: RngCore + CryptoRng>(rng: &mut R) -> u32 {
    rng.next_u32() % STATUS_LIST_SIZE
}

/// Issues a card: draws a serial, builds the payload and signs it.
///
/// Refuses dates the key may not sign (before its `valid_from`, after its `valid_until`) and
/// a text that would need a QR version above 10.
pub fn issue<R: RngCore + CryptoRng>(
    signer: &CardSigner,
    request: &CardRequest<'_>,
    rng: &mut R,
) -> Result<IssuedCard, CardError> {
    if request.status_index >= STATUS_LIST_SIZE {
        return Err(CardError::StatusIndexOutOfRange(request.status_index));
    }
    if !signer.entry().covers(request.issued, request.expires) {
        return Err(CardError::InvalidDates(format!(
            "the key signs cards issued from {} and valid until {} at most",
            signer.entry().valid_from,
            signer.entry().valid_until
        )));
    }
    let payload = CardPayload {
        key_id: signer.key_id(),
        serial: CardSerial::random(rng),
        masked_name: MaskedName::mask(request.full_name)?,
        id_last_four: IdLastFour::of_id_number(request.id_number)?,
        issued: request.issued,
        expires: request.expires,
        status_index: request.status_index,
    };
    let text = sign_payload(signer, &payload)?;
    qr_code(&text)?;
    Ok(IssuedCard { payload, text })
}

/// Signs a payload and returns its QR text (no checks on key validity; see [`issue`]).
pub fn sign_payload(signer: &CardSigner, payload: &CardPayload) -> Result<String, CardError> {
    let mut bytes = payload.to_bytes()?;
    let mut message = CARD_SIGNING_CONTEXT.to_vec();
    message.extend_from_slice(&bytes);
    bytes.extend_from_slice(&signer.sign(&message));
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Why a QR text is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedError {
    /// It does not start with `GC1:`.
    #[error("does not start with GC1:")]
    WrongPrefix,
    /// The part after the prefix is not canonical base64url without padding.
    #[error("not base64url")]
    BadBase64,
    /// The bytes do not follow the layout.
    #[error("{0}")]
    Payload(#[from] PayloadError),
    /// The status-list index is outside the list (the office never issues such a card).
    #[error("status-list index out of range")]
    StatusIndex,
}

/// The part of a scanned text that is the card: without the whitespace and byte-order marks a
/// scanner or a copy-paste adds around it. Two scans are of the same card text exactly when
/// this is equal.
pub fn card_text(scanned: &str) -> &str {
    scanned.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// Decodes a scanned QR text. Whitespace, CR/LF and a UTF-8 BOM around it are ignored.
pub fn decode_text(scanned: &str) -> Result<SignedCard, MalformedError> {
    let text = card_text(scanned);
    let body = text
        .strip_prefix(PREFIX)
        .ok_or(MalformedError::WrongPrefix)?;
    // The base64 engine rejects padding and non-zero trailing bits, so every card has exactly
    // one accepted text.
    let bytes = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| MalformedError::BadBase64)?;
    let (payload, payload_bytes, signature) = CardPayload::split_signed(&bytes)?;
    if payload.status_index >= STATUS_LIST_SIZE {
        return Err(MalformedError::StatusIndex);
    }
    let mut message = CARD_SIGNING_CONTEXT.to_vec();
    message.extend_from_slice(payload_bytes);
    Ok(SignedCard {
        payload,
        message,
        signature,
    })
}

/// Builds the QR symbol of a card text at error correction M, refusing versions above 10.
pub fn qr_code(text: &str) -> Result<QrCode, CardError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| CardError::Qr(e.to_string()))?;
    match code.version() {
        Version::Normal(v) if v <= MAX_QR_VERSION => Ok(code),
        Version::Normal(v) | Version::Micro(v) => Err(CardError::QrTooLarge(v)),
    }
}
