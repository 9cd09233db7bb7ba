-- The public half of the card-signing keys and their states, shared by every instance: a key
-- rotated, retired or compromised with the command line reaches each running service within
-- its refresh interval. The secrets stay in the key folder, never in the database.
-- A key's status only moves forward (active → verify_only → retired / compromised); the
-- service's upsert keeps the most final of what it has and what it is told.

create table card_key (
    key_id       text primary key,            -- 16 hex digits, from the public key
    public_key   text not null,               -- base64url, 32 bytes
    status       text not null check (status in ('active', 'verify_only', 'retired', 'compromised')),
    created_at   text not null,
    valid_from   text not null,
    valid_until  text not null,
    signed_until text
);
