-- Clinics (二(五)4 and 二(五)6): free annual checkups with places per weekday and per date, and
-- family-doctor contracts with their follow-ups. Capacity and uniqueness are the database's:
-- a booking takes a place by a conditional update of its day's counter, and a unique partial
-- index allows one booked-or-completed checkup per member and year, one active contract per member.

create table checkup_weekday (
    facility_id integer not null references facility (facility_id),
    weekday     integer not null check (weekday between 1 and 7),     -- ISO: 1 is Monday
    places      integer not null check (places between 0 and 1000),
    primary key (facility_id, weekday)
);

-- A date's own number of places (more, fewer, or 0: closed, e.g. a holiday).
create table checkup_date (
    facility_id integer not null references facility (facility_id),
    on_date     text not null,
    places      integer not null check (places between 0 and 1000),
    note        text,
    primary key (facility_id, on_date)
);

-- Places taken on a day: the row a booking's conditional update must touch.
create table checkup_day (
    facility_id integer not null references facility (facility_id),
    on_date     text not null,
    booked      integer not null check (booked >= 0),
    primary key (facility_id, on_date)
);

create table checkup (
    checkup_id        integer primary key autoincrement,
    member_id         integer not null references member (member_id),
    facility_id       integer not null references facility (facility_id),
    on_date           text not null,
    year              integer not null,                 -- the calendar year of on_date
    state             text not null check (state in ('booked', 'completed', 'cancelled', 'no_show')),
    booked_at         text not null,
    booked_by         integer references account (account_id),
    completed_on      text,
    result_summary    text,
    report_ref        text,
    follow_up_advised boolean,
    closed_at         text,
    closed_by         integer references account (account_id),
    close_reason      text,
    check ((state = 'completed') = (completed_on is not null))
);
create unique index checkup_once_a_year on checkup (member_id, year) where state in ('booked', 'completed');
create index checkup_facility_day on checkup (facility_id, on_date);
create index checkup_year on checkup (year, state);

create table family_doctor_contract (
    contract_id       integer primary key autoincrement,
    member_id         integer not null references member (member_id),
    facility_id       integer not null references facility (facility_id),
    doctor_name       text not null,
    doctor_code       text not null,
    team              text,
    starts_on         text not null,
    ends_on           text not null,                    -- the last day it covers
    health_record_ref text not null,
    state             text not null check (state in ('active', 'renewed', 'ended')),
    renews            integer references family_doctor_contract (contract_id),
    next_follow_up_on text,
    ended_on          text,
    end_reason        text check (end_reason in ('moved_away', 'unreachable', 'member_wish', 'death')),
    end_note          text,
    created_at        text not null,
    created_by        integer references account (account_id),
    closed_at         text,
    closed_by         integer references account (account_id),
    check ((state = 'ended') = (end_reason is not null)),
    check (ends_on >= starts_on)
);
create unique index contract_one_active on family_doctor_contract (member_id) where state = 'active';
create index contract_facility on family_doctor_contract (facility_id, state);
create index contract_ends on family_doctor_contract (state, ends_on);

create table contract_follow_up (
    follow_up_id integer primary key autoincrement,
    contract_id  integer not null references family_doctor_contract (contract_id),
    on_date      text not null,
    doctor_name  text not null,
    kind         text not null check (kind in ('visit', 'assessment', 'guidance', 'other')),
    note         text,
    next_due_on  text,
    created_at   text not null,
    created_by   integer references account (account_id)
);
create index contract_follow_up_contract on contract_follow_up (contract_id, on_date);
