//! Townships, communities and facilities.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::Db;
use crate::error::{AppError, Result};
use crate::on_db;
use crate::register::{CommunityKind, FacilityKind, TownshipKind};

/// A township or street of the district.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct Township {
    /// Administrative code.
    pub township_id: String,
    /// Name, e.g. 周村街道.
    pub name: String,
    /// `town` or `street`.
    pub kind: String,
}

/// A village or residents' community.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct Community {
    /// Administrative code.
    pub community_id: String,
    /// The township it belongs to.
    pub township_id: String,
    /// Name.
    pub name: String,
    /// `village` or `community`.
    pub kind: String,
}

/// A medical facility.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct Facility {
    /// Its id.
    pub facility_id: i64,
    /// Name.
    pub name: String,
    /// What it is.
    pub kind: String,
    /// Hospital level, 1–3.
    pub level: i32,
    /// The township it stands in.
    pub township_id: Option<String>,
}

/// A new or changed facility.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacilityInput {
    /// Name.
    pub name: String,
    /// What it is.
    pub kind: FacilityKind,
    /// Hospital level, 1–3.
    pub level: i32,
    /// The township it stands in.
    #[serde(default)]
    pub township_id: Option<String>,
}

/// Adds a township (idempotent on its code).
pub async fn add_township(db: &Db, id: &str, name: &str, kind: TownshipKind) -> Result<()> {
    on_db!(db, p => sqlx::query(
        "insert into township (township_id, name, kind) values ($1, $2, $3)
         on conflict (township_id) do update set name = excluded.name, kind = excluded.kind")
        .bind(id).bind(name).bind(kind.as_str()).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// Adds a community (idempotent on its code).
pub async fn add_community(
    db: &Db,
    id: &str,
    township_id: &str,
    name: &str,
    kind: CommunityKind,
) -> Result<()> {
    on_db!(db, p => sqlx::query(
        "insert into community (community_id, township_id, name, kind) values ($1, $2, $3, $4)
         on conflict (community_id) do update set name = excluded.name, kind = excluded.kind")
        .bind(id).bind(township_id).bind(name).bind(kind.as_str()).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// Every township, by code.
pub async fn townships(db: &Db) -> Result<Vec<Township>> {
    Ok(
        on_db!(db, p => sqlx::query_as("select township_id, name, kind from township order by township_id")
        .fetch_all(p).await)?,
    )
}

/// Every community, by code.
pub async fn communities(db: &Db) -> Result<Vec<Community>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select community_id, township_id, name, kind from community order by community_id")
        .fetch_all(p).await)?)
}

/// Every facility, by id.
pub async fn facilities(db: &Db) -> Result<Vec<Facility>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select facility_id, name, kind, level, township_id from facility order by facility_id")
        .fetch_all(p).await)?)
}

/// One facility.
pub async fn facility(db: &Db, id: i64) -> Result<Facility> {
    on_db!(db, p => sqlx::query_as(
        "select facility_id, name, kind, level, township_id from facility where facility_id = $1")
        .bind(id).fetch_optional(p).await)?
    .ok_or(AppError::NotFound("facility"))
}

fn check_facility(input: &FacilityInput) -> Result<()> {
    if input.name.trim().is_empty() {
        return Err(AppError::field("name", "不能为空 / must not be empty"));
    }
    if !(1..=3).contains(&input.level) {
        return Err(AppError::field(
            "level",
            "医院等级应为1-3 / level must be 1 to 3",
        ));
    }
    Ok(())
}

/// Adds a facility and records it in the change log, in one transaction.
pub async fn add_facility(
    db: &Db,
    input: &FacilityInput,
    account_id: Option<i64>,
    reason: &str,
) -> Result<Facility> {
    check_facility(input)?;
    let now = Utc::now();
    let facility: Facility = on_db!(db, p => {
        let mut tx = p.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "insert into facility (name, kind, level, township_id, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $5) returning facility_id")
            .bind(input.name.trim()).bind(input.kind.as_str()).bind(input.level)
            .bind(input.township_id.as_deref()).bind(now)
            .fetch_one(&mut *tx).await.map_err(township_fk("township_id"))?;
        let f = Facility {
            facility_id: id,
            name: input.name.trim().to_owned(),
            kind: input.kind.as_str().to_owned(),
            level: input.level,
            township_id: input.township_id.clone(),
        };
        sqlx::query(
            "insert into change_log (entity, entity_id, version, changed_at, account_id, reason, snapshot)
             values ('facility', $1, 1, $2, $3, $4, $5)")
            .bind(id).bind(now).bind(account_id).bind(reason)
            .bind(serde_json::to_string(&f).map_err(anyhow::Error::from)?)
            .execute(&mut *tx).await?;
        tx.commit().await?;
        f
    });
    Ok(facility)
}

/// Maps a foreign-key failure on a township column to a 422 naming the field.
pub(crate) fn township_fk(field: &'static str) -> impl Fn(sqlx::Error) -> AppError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => AppError::field(
            field,
            "未知的镇街或村居代码 / unknown township or community code",
        ),
        _ => AppError::from(e),
    }
}

/// Changes a facility and appends its new state to the change log, in one transaction.
pub async fn update_facility(
    db: &Db,
    id: i64,
    input: &FacilityInput,
    account_id: Option<i64>,
    reason: &str,
) -> Result<Facility> {
    check_facility(input)?;
    if reason.trim().is_empty() {
        return Err(AppError::field(
            "reason",
            "修改须说明原因 / a change must say why",
        ));
    }
    let now = Utc::now();
    let facility = Facility {
        facility_id: id,
        name: input.name.trim().to_owned(),
        kind: input.kind.as_str().to_owned(),
        level: input.level,
        township_id: input.township_id.clone(),
    };
    let snapshot = serde_json::to_string(&facility).map_err(anyhow::Error::from)?;
    on_db!(db, p => {
        let mut tx = p.begin().await?;
        let n = sqlx::query(
            "update facility set name = $1, kind = $2, level = $3, township_id = $4, updated_at = $5 where facility_id = $6")
            .bind(&facility.name).bind(&facility.kind).bind(facility.level).bind(facility.township_id.as_deref())
            .bind(now).bind(id)
            .execute(&mut *tx).await.map_err(township_fk("township_id"))?.rows_affected();
        if n == 0 {
            return Err(AppError::NotFound("facility"));
        }
        let version: i32 = sqlx::query_scalar(
            "select coalesce(max(version), 0) + 1 from change_log where entity = 'facility' and entity_id = $1")
            .bind(id).fetch_one(&mut *tx).await?;
        sqlx::query(
            "insert into change_log (entity, entity_id, version, changed_at, account_id, reason, snapshot)
             values ('facility', $1, $2, $3, $4, $5, $6)")
            .bind(id).bind(version).bind(now).bind(account_id).bind(reason.trim()).bind(&snapshot)
            .execute(&mut *tx).await?;
        tx.commit().await?;
    });
    Ok(facility)
}

/// Every change to a facility, oldest first.
pub async fn facility_history(db: &Db, id: i64) -> Result<Vec<crate::db::households::ChangeEntry>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select version, changed_at, account_id, reason from change_log
          where entity = 'facility' and entity_id = $1 order by version")
        .bind(id).fetch_all(p).await)?)
}
