-- Emergencies a township reports at once (二(二)): open until someone closes them with what was
-- done; every step (the report, what was done meanwhile, the close) is kept in order.

create table emergency (
    emergency_id integer primary key autoincrement,
    household_id integer not null references household (household_id),
    kind         text not null check (kind in ('accident', 'disaster', 'hardship', 'other')),
    happened_on  text not null,                       -- the Beijing date
    happened_at  text,                                -- the moment, when it was given
    what         text not null,
    needs        text,
    state        text not null check (state in ('open', 'closed')),
    reported_at  text not null,
    reported_by  integer not null references account (account_id),
    closed_at    text,
    closed_by    integer references account (account_id),
    outcome      text,
    check ((state = 'closed') = (closed_at is not null and closed_by is not null and outcome is not null))
);
create index emergency_state on emergency (state, reported_at);
create index emergency_household on emergency (household_id);

create table emergency_step (
    step_id      integer primary key autoincrement,
    emergency_id integer not null references emergency (emergency_id),
    kind         text not null check (kind in ('reported', 'action', 'closed')),
    note         text not null,
    at           text not null,
    by_account   integer not null references account (account_id)
);
create index emergency_step_emergency on emergency_step (emergency_id, step_id);
