-- The contact person's log (二(二)): every special family is reached at least once a calendar
-- month (Asia/Shanghai): a month's contacts are those whose Beijing date `contacted_on` falls in
-- it, whatever the moment's UTC date.

create table contact_log (
    contact_id        integer primary key autoincrement,
    household_id      integer not null references household (household_id),
    contacted_on      text not null,                  -- the Beijing date of the contact
    contacted_at      text,                           -- the moment, when it was given
    how               text not null check (how in ('visit', 'phone', 'other')),
    made_by           text not null,                  -- who reached the family
    raised            text,                           -- what the family raised
    needs             text,                           -- what it needs
    follow_up         text,                           -- the follow-up promised
    closes_contact_id integer references contact_log (contact_id),
    recorded_at       text not null,
    recorded_by       integer not null references account (account_id),
    check (closes_contact_id is null or closes_contact_id <> contact_id)
);
create index contact_log_household on contact_log (household_id, contacted_on);
create index contact_log_day on contact_log (contacted_on, household_id);
-- A promised follow-up is closed once.
create unique index contact_log_closes_once on contact_log (closes_contact_id) where closes_contact_id is not null;
