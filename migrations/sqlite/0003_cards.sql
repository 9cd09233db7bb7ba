-- Cards (方便就医卡) and their lifecycle events.

create table card (
    card_id          integer primary key autoincrement,
    serial           text not null unique,             -- 24 hex characters, random
    member_id        integer not null references member (member_id),
    household_id     integer not null references household (household_id),
    status_index     integer not null unique,          -- random position in the status list
    key_id           text not null,
    issued_on        text not null,
    expires_on       text not null,
    state            text not null check (state in ('active', 'suspended', 'revoked')),
    state_reason     text,
    state_changed_at text not null,
    replaces_card_id integer references card (card_id),
    qr_text          text not null,
    created_at       text not null,
    created_by       integer references account (account_id)
);
create index card_member on card (member_id);
-- A member holds at most one current (active or suspended) card.
create unique index card_current on card (member_id) where state <> 'revoked';

create table card_event (
    card_event_id integer primary key autoincrement,
    card_id       integer not null references card (card_id),
    at            text not null,
    account_id    integer references account (account_id),
    action        text not null check (action in ('issued', 'suspended', 'reinstated', 'revoked')),
    reason        text not null,
    automatic     boolean not null
);
create index card_event_card on card_event (card_id);
