//! Finding a family: by a member's name, full ID number, its last four characters, or a phone,
//! within a township, community and family kind. Each key has its own index (the name is
//! matched anywhere in it, by a scan of the member table; 100,000 households are measured in
//! the README).

use serde::Serialize;

use super::Db;
use crate::error::Result;
use crate::on_db;

/// What the search box held, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Needle {
    /// Nothing: every household of the filters.
    All,
    /// A full 18-character ID number.
    IdNumber(String),
    /// Its last four characters.
    IdLastFour(String),
    /// An 11-digit mobile number (a member's or the contact person's).
    Phone(String),
    /// Part of a member's name.
    Name(String),
}

impl Needle {
    /// Reads what was typed: `X` in an ID number is matched in either case.
    pub fn parse(q: &str) -> Self {
        let q = q.trim();
        let id_char = |c: char| c.is_ascii_digit() || c == 'x' || c == 'X';
        let n = q.chars().count();
        if q.is_empty() {
            Self::All
        } else if n == 18 && q.chars().all(id_char) {
            Self::IdNumber(q.to_ascii_uppercase())
        } else if n == 4 && q.chars().all(id_char) {
            Self::IdLastFour(q.to_ascii_uppercase())
        } else if n == 11 && q.chars().all(|c| c.is_ascii_digit()) {
            Self::Phone(q.to_owned())
        } else {
            Self::Name(q.to_owned())
        }
    }
}

/// The filters of a search.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// Only this township (forced to their own for township staff).
    pub township: Option<&'a str>,
    /// Only this community.
    pub community: Option<&'a str>,
    /// Only this child status (`deceased`, `disabled`).
    pub child_status: Option<&'a str>,
}

/// One household found.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Found {
    /// Its id.
    pub household_id: i64,
    /// Township code.
    pub township_id: String,
    /// Township name.
    pub township_name: String,
    /// Community name.
    pub community_name: Option<String>,
    /// `deceased`, `disabled` or `healthy`.
    pub child_status: String,
    /// Address.
    pub address: String,
}

/// A member of a household found: name, role and the stored ID number (the page masks it).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FoundMember {
    /// Household.
    pub household_id: i64,
    /// Member.
    pub member_id: i64,
    /// Name.
    pub name: String,
    /// `mother`, `father`, `child`.
    pub role: String,
    /// ID number as stored.
    pub id_number: String,
}

/// The households with a member meeting `condition` (on `m`).
fn in_members(condition: &str) -> String {
    format!("h.household_id in (select m.household_id from member m where {condition})")
}

/// Up to `limit` households matching, in id order after `after`, with their members.
pub async fn search(
    db: &Db,
    needle: &Needle,
    filter: &Filter<'_>,
    after: i64,
    limit: i64,
) -> Result<(Vec<Found>, Vec<FoundMember>)> {
    // The member (or contact) condition picks household ids through its own index first;
    // the households are then read by id. A name is matched anywhere in it, which no index
    // serves: one pass over the member table (`instr`/`strpos`, the same on both databases,
    // and a name has no letter case to fold).
    let position = match db {
        Db::Sqlite(_) => "instr(m.name, $4) > 0",
        Db::Postgres(_) => "strpos(m.name, $4) > 0",
    };
    let (ids, value): (String, Option<&str>) = match needle {
        Needle::All => ("$4 is null".into(), None),
        Needle::IdNumber(v) => (in_members("m.id_number = $4"), Some(v)),
        Needle::IdLastFour(v) => (in_members("substr(m.id_number, 15, 4) = $4"), Some(v)),
        Needle::Phone(v) => (
            "(h.household_id in (select m.household_id from member m where m.phone = $4)
              or h.household_id in (select household_id from household where contact_phone = $4))"
                .to_owned(),
            Some(v),
        ),
        Needle::Name(v) => (in_members(position), Some(v)),
    };
    let sql = format!(
        "select h.household_id, h.township_id, t.name as township_name,
                c.name as community_name, h.child_status, h.address
           from household h
           join township t on t.township_id = h.township_id
           left join community c on c.community_id = h.community_id
          where ($1 is null or h.township_id = $1)
            and ($2 is null or h.community_id = $2)
            and ($3 is null or h.child_status = $3)
            and {ids}
            and h.household_id > $5
          order by h.household_id limit $6"
    );
    let found: Vec<Found> = on_db!(db, p => sqlx::query_as(&sql)
        .bind(filter.township).bind(filter.community).bind(filter.child_status)
        .bind(value).bind(after).bind(limit)
        .fetch_all(p).await)?;
    if found.is_empty() {
        return Ok((found, vec![]));
    }
    // Ids from our own rows, so listing them in the SQL is safe.
    let ids = found
        .iter()
        .map(|f| f.household_id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let members_sql = format!(
        "select household_id, member_id, name, role, id_number from member
          where household_id in ({ids}) order by household_id, member_id"
    );
    let members: Vec<FoundMember> =
        on_db!(db, p => sqlx::query_as(&members_sql).fetch_all(p).await)?;
    Ok((found, members))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_typed_is_read_as_the_right_key() {
        assert_eq!(Needle::parse("  "), Needle::All);
        assert_eq!(
            Needle::parse("37030319650101123x"),
            Needle::IdNumber("37030319650101123X".into())
        );
        assert_eq!(Needle::parse("123x"), Needle::IdLastFour("123X".into()));
        assert_eq!(
            Needle::parse("13800000000"),
            Needle::Phone("13800000000".into())
        );
        assert_eq!(Needle::parse("王秀"), Needle::Name("王秀".into()));
        assert_eq!(Needle::parse("12345"), Needle::Name("12345".into()));
    }
}
