//! What changed between two evaluations (two dates, or two rule sets).

use std::collections::BTreeMap;

use serde::Serialize;

use super::entitlement::{Code, Entitlement, Evaluation, Per, Status};

/// How an entitlement changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Listed only in the second evaluation.
    Gained,
    /// Listed only in the first.
    Lost,
    /// Listed in both, with a different amount or period.
    AmountChanged,
    /// Listed in both, granted in one and needing data in the other.
    StatusChanged,
}

/// The state of one entitlement on one side of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Side {
    /// Granted or needs data.
    pub status: Status,
    /// Amount in fen.
    pub amount_fen: Option<i64>,
    /// Period.
    pub per: Option<Per>,
}

/// One change, per code and member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The code.
    pub code: Code,
    /// Member id, or `None` for the household.
    pub member: Option<String>,
    /// What changed.
    pub kind: ChangeKind,
    /// The first evaluation's entry.
    pub before: Option<Side>,
    /// The second evaluation's entry.
    pub after: Option<Side>,
}

/// The changes from `a` to `b` in the listed entitlements, ordered by code and member.
pub fn diff(a: &Evaluation, b: &Evaluation) -> Vec<Change> {
    let index = |ev: &Evaluation| -> BTreeMap<(Code, Option<String>), Side> {
        ev.entitlements
            .iter()
            .map(|e: &Entitlement| {
                (
                    (e.code, e.member.clone()),
                    Side {
                        status: e.status,
                        amount_fen: e.amount_fen,
                        per: e.per,
                    },
                )
            })
            .collect()
    };
    let (before, mut after) = (index(a), index(b));
    let mut out = Vec::new();
    for ((code, member), x) in before {
        let y = after.remove(&(code, member.clone()));
        let kind = match y {
            None => ChangeKind::Lost,
            Some(y) if y.amount_fen != x.amount_fen || y.per != x.per => ChangeKind::AmountChanged,
            Some(y) if y.status != x.status => ChangeKind::StatusChanged,
            Some(_) => continue,
        };
        out.push(Change {
            code,
            member,
            kind,
            before: Some(x),
            after: y,
        });
    }
    for ((code, member), y) in after {
        out.push(Change {
            code,
            member,
            kind: ChangeKind::Gained,
            before: None,
            after: Some(y),
        });
    }
    out.sort_by(|p, q| (p.code, &p.member).cmp(&(q.code, &q.member)));
    out
}
