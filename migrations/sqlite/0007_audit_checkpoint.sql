-- Signed heads of the audit chains: "chain C had N entries, the last hashed H", signed with the
-- audit key that is kept outside the database. Exported, they prove the log still extends them.

create table audit_checkpoint (
    audit_checkpoint_id integer primary key autoincrement,
    chain_id   text not null,
    seq        bigint not null,
    hash       text not null,
    made_at    text not null,     -- RFC 3339 UTC, exactly as signed
    signature  text not null,
    public_key text not null,     -- the audit key that signed it (each instance has its own)
    unique (chain_id, seq, public_key)
);
