-- The household's contact person is one of township staff, a village or community cadre, a
-- family-planning association member or a volunteer; the contact group's other members are kept
-- beside them (二(二), issue 13). JSON (`register::GroupMember`); the change log keeps history.
alter table household add column contact_role text
    check (contact_role in ('township_staff', 'community_cadre', 'association_member', 'volunteer'));
alter table household add column contact_group text not null default '[]';
