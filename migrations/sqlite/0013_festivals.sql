-- Festival visits (二(二), 二(十)3): the office configures the year's major festivals with the
-- days visits for them count on; a township records each visit, one per household and festival.

create table festival (
    festival_id  integer primary key autoincrement,
    name         text not null,                       -- 春节, 中秋节 …
    year         integer not null,
    on_date      text not null,
    visits_from  text not null,
    visits_until text not null,
    created_at   text not null,
    created_by   integer not null references account (account_id),
    unique (name, year),
    check (visits_from <= on_date and on_date <= visits_until)
);

create table festival_visit (
    visit_id     integer primary key autoincrement,
    festival_id  integer not null references festival (festival_id),
    household_id integer not null references household (household_id),
    visited_on   text not null,
    made_by      text not null,
    note         text,
    recorded_at  text not null,
    recorded_by  integer not null references account (account_id),
    unique (festival_id, household_id)
);
create index festival_visit_household on festival_visit (household_id);
