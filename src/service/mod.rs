//! Policy that spans the domain and the database, one module per area: each user action is one
//! transaction ([`crate::db::Tx`]) that lands whole or not at all. Handlers and the command line
//! call these; `db/` below them only stores and reads.

pub mod audit;
pub mod cards;
pub mod checkups;
pub mod contacts;
pub mod contracts;
pub mod emergencies;
pub mod facts;
pub mod festivals;
pub mod keys;
pub mod register;
pub mod rules;
pub mod sign_in;

use crate::rules::{Code, Evaluation, Status};

/// Whether `member_id` is granted `code` in an evaluation.
pub fn granted(ev: &Evaluation, code: Code, member_id: i64) -> bool {
    let id = member_id.to_string();
    ev.entitlements.iter().any(|e| {
        e.code == code && e.status == Status::Granted && e.member.as_deref() == Some(id.as_str())
    })
}

/// Why a member is not granted `code`, in both languages: the failed condition the rules name.
pub fn why_not(ev: &Evaluation, code: Code, member_id: i64) -> String {
    if !ev.eligible {
        return format!("{} / {}", ev.eligibility.zh, ev.eligibility.en);
    }
    let id = member_id.to_string();
    ev.not_applicable
        .iter()
        .chain(ev.entitlements.iter())
        .find(|e| e.code == code && e.member.as_deref() == Some(id.as_str()))
        .map_or_else(
            || {
                format!(
                    "该成员不享受“{}” / the member is not entitled to {}",
                    code.zh(),
                    code.as_str()
                )
            },
            |e| format!("{} / {}", e.basis.zh, e.basis.en),
        )
}
