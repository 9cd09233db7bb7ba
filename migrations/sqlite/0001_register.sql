-- The register (信息档案): places, facilities, households and their members, staff accounts,
-- and the change history that lets the office answer "what did this file say on date X".
-- Dates are ISO 'YYYY-MM-DD' text; timestamps are UTC RFC 3339 text; money is integer fen.

create table township (
    township_id   text primary key,            -- administrative code, e.g. '370306001'
    name          text not null unique,
    kind          text not null check (kind in ('town', 'street'))
);

create table community (
    community_id  text primary key,
    township_id   text not null references township (township_id),
    name          text not null,
    kind          text not null check (kind in ('village', 'community')),
    unique (township_id, name)
);

create table facility (
    facility_id   integer primary key autoincrement,
    name          text not null unique,
    kind          text not null check (kind in ('district_hospital', 'township_health_centre',
                                                'community_health_centre', 'other')),
    level         integer not null check (level between 1 and 3),
    township_id   text references township (township_id),
    created_at    text not null,
    updated_at    text not null
);

create table household (
    household_id           integer primary key autoincrement,
    township_id            text not null references township (township_id),
    community_id           text references community (community_id),
    address                text not null,
    hukou_in_district      boolean not null,
    area                   text not null check (area in ('urban', 'rural')),
    child_status           text not null check (child_status in ('deceased', 'disabled', 'healthy')),
    child_died_on          text,
    child_disability_grade integer check (child_disability_grade between 1 and 4),
    other_child_since      boolean not null,
    dibao                  boolean not null,
    low_income             boolean not null,
    ivf_birth_on           text,
    contact_name           text,
    contact_phone          text,
    version                integer not null,
    created_at             text not null,
    updated_at             text not null,
    check ((child_status = 'deceased') = (child_died_on is not null)),
    check ((child_status = 'disabled') = (child_disability_grade is not null))
);
create index household_township on household (township_id);

create table member (
    member_id                  integer primary key autoincrement,
    household_id               integer not null references household (household_id) on delete cascade,
    name                       text not null,
    sex                        text not null check (sex in ('female', 'male')),
    role                       text not null check (role in ('mother', 'father', 'child')),
    born_on                    text not null,
    id_number                  text not null unique,
    phone                      text,
    died_on                    text,
    resident_pension           boolean not null,
    basic_pension_monthly_fen  integer check (basic_pension_monthly_fen >= 0),
    resident_medical_insurance boolean not null,
    self_care                  text check (self_care in ('full', 'partial', 'none')),
    unique (household_id, role)
);
create index member_household on member (household_id);

create table account (
    account_id   integer primary key autoincrement,
    name         text not null unique,
    role         text not null check (role in ('office', 'township', 'desk', 'clinic', 'auditor')),
    township_id  text references township (township_id),
    facility_id  integer references facility (facility_id),
    created_at   text not null,
    disabled_at  text,
    check ((role = 'township') = (township_id is not null)),
    check ((role in ('desk', 'clinic')) = (facility_id is not null))
);

-- Bearer tokens are 256-bit random secrets; only their SHA-256 is stored.
create table api_token (
    api_token_id integer primary key autoincrement,
    account_id   integer not null references account (account_id),
    token_hash   text not null unique,
    label        text not null,
    created_at   text not null,
    revoked_at   text
);

-- One row per change to a household file (with its members) or a facility: the whole record as
-- JSON after the change, who made it, when and why. Append-only.
create table change_log (
    change_log_id integer primary key autoincrement,
    entity        text not null check (entity in ('household', 'facility')),
    entity_id     integer not null,
    version       integer not null,
    changed_at    text not null,
    account_id    integer references account (account_id),
    reason        text not null,
    snapshot      text not null,
    unique (entity, entity_id, version)
);
