-- Since when a member is enrolled in the resident pension and medical insurance, when known:
-- entitlements that need the enrolment count from that day (null: on every day, as before).

alter table member add column pension_since text;
alter table member add column medical_insurance_since text;
