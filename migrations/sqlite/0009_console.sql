-- The web console: staff passwords (argon2id, PHC strings), browser sessions, failed sign-ins
-- for throttling, and the log of full ID numbers shown on screen (三(四): the families' privacy).

alter table account add column password_hash text;
alter table account add column password_must_change boolean not null default false;

create table web_session (
    web_session_id integer primary key autoincrement,
    token_hash     text not null unique,        -- SHA-256 of the cookie's secret, hex
    account_id     integer not null references account (account_id),
    csrf_token     text not null,
    created_at     text not null,
    last_seen_at   text not null,
    ended_at       text
);
create index web_session_account on web_session (account_id);

create table sign_in_failure (
    sign_in_failure_id integer primary key autoincrement,
    account_name       text not null,            -- as typed, whether or not such an account exists
    address            text not null,
    failed_at          text not null
);
create index sign_in_failure_name on sign_in_failure (account_name, failed_at);
create index sign_in_failure_address on sign_in_failure (address, failed_at);

create table personal_data_view (
    personal_data_view_id integer primary key autoincrement,
    account_id            integer not null references account (account_id),
    member_id             integer not null,        -- no foreign key: the record outlives an edit that removes the member
    household_id          integer not null,
    what                  text not null check (what in ('id_number')),
    viewed_at             text not null
);
create index personal_data_view_at on personal_data_view (viewed_at);

-- The console's search: a member by the last four characters of the ID number, or by phone.
create index member_id_last4 on member (substr(id_number, 15, 4));
create index member_phone on member (phone);

-- A spreadsheet uploaded in the console, checked and waiting for its "import" (the browser
-- cannot send the same file twice without asking the user to pick it again).
create table pending_import (
    pending_import_id integer primary key autoincrement,
    token             text not null unique,
    account_id        integer not null references account (account_id),
    file_name         text not null,
    encoding          text not null,
    content           blob not null,
    created_at        text not null
);
create index household_contact_phone on household (contact_phone);
-- A name is matched anywhere in it: a pass over this narrow index instead of the member table.
create index member_name on member (name, household_id);
