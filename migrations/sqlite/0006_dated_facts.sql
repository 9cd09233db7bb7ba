-- Facts that change entitlements carry the day they took effect, so that a month is judged by
-- the facts as they stood in it: a child born in September ends the payments from October and
-- never claws back June, which was rightly paid. Periods are JSON arrays of
-- {"from": "YYYY-MM-DD", "until": "YYYY-MM-DD"?}; an empty array (every file kept before this
-- migration) means the yes/no column holds on every day, as before.

alter table household add column hukou_moved_out_on text;
alter table household add column other_child_on text;
alter table household add column dibao_periods text not null default '[]';
alter table household add column low_income_periods text not null default '[]';
