-- The verification audit log: append-only, each entry chained to the previous one of its chain
-- by SHA-256, so that a deleted, reordered or edited entry is found by `greenchannel audit check`.
-- Each service process writes its own chain (chain_id), so PostgreSQL scale-out needs no
-- cross-instance lock. `at` is kept as the exact RFC 3339 text that was hashed.

create table verification (
    verification_id integer primary key autoincrement,
    chain_id        text not null,
    seq             integer not null,
    at              text not null,
    day             text not null,                -- the district calendar day, for reports
    facility_id     integer not null references facility (facility_id),
    account_id      integer not null references account (account_id),
    card_serial     text,                         -- null when the text was not a card
    verdict         text not null,
    prev_hash       text not null,
    hash            text not null,
    unique (chain_id, seq)
);
-- No index by card: it would put a random page into every commit of the desk's hot path, and the
-- office's per-card reads scan a district's few hundred thousand rows a year well enough.
create index verification_facility on verification (facility_id, day);

-- Where each card was last verified valid: copied-card detection reads one row per scanned card
-- instead of the card's whole history.
create table card_last_seen (
    card_serial     text primary key,
    facility_id     integer not null,
    verification_id integer not null,
    at              text not null
);

-- The same card verified at two facilities within a few minutes: possibly a copied card.
create table copy_alert (
    copy_alert_id   integer primary key autoincrement,
    card_serial     text not null,
    first_verification_id  integer not null references verification (verification_id),
    second_verification_id integer not null references verification (verification_id),
    created_at      text not null
);
