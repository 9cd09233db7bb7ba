-- The facts the rules read beyond a file's basics (issue 13), each with the days it holds from:
-- 特困, economic difficulty, civil capacity and guardian, severe disability, schooling and the
-- yearly pension contributions of a member; housing difficulty and the funeral-subsidy
-- conditions of a household. JSON (`register::MemberFacts`, `register::HouseholdFacts`): the
-- rules read them whole, no query selects on them, and the change log keeps their history.
alter table member add column facts text not null default '{}';
alter table household add column facts text not null default '{}';
