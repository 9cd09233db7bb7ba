-- Rule documents the office loads after the shipped one (successors and continuations), and
-- disbursement lists: drafts, and approved lists frozen with the rules and facts they used.

create table rule_document (
    rule_document_id integer primary key autoincrement,
    name             text not null,
    body             text not null,
    loaded_at        text not null,
    account_id       integer references account (account_id)
);

create table disbursement (
    disbursement_id integer primary key autoincrement,
    period          text not null,                 -- 'YYYY-MM'
    status          text not null check (status in ('draft', 'approved')),
    rule_sets       text not null,                 -- JSON: the rule sets with every parameter value
    created_at      text not null,
    created_by      integer references account (account_id),
    approved_at     text,
    approved_by     integer references account (account_id),
    total_fen       integer not null
);
-- At most one approved list per month.
create unique index disbursement_approved on disbursement (period) where status = 'approved';

-- The facts each household's rows were computed from (the engine's input, as JSON).
create table disbursement_household (
    disbursement_id   integer not null references disbursement (disbursement_id) on delete cascade,
    household_id      integer not null references household (household_id),
    household_version integer not null,
    facts             text not null,
    primary key (disbursement_id, household_id)
);

create table disbursement_row (
    disbursement_row_id integer primary key autoincrement,
    disbursement_id     integer not null references disbursement (disbursement_id) on delete cascade,
    household_id        integer not null references household (household_id),
    member_id           integer references member (member_id),
    township_id         text not null,
    code                text not null,
    for_month           text not null,             -- 'YYYY-MM' the amount is for
    kind                text not null check (kind in ('due', 'correction', 'needs_data')),
    amount_fen          integer,
    once_key            text,
    missing             text,
    rule_set            text not null,
    clause              text not null
);
create index disbursement_row_list on disbursement_row (disbursement_id);
create index disbursement_row_household on disbursement_row (household_id, code);
