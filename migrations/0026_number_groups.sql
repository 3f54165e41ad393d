-- Number groups. Blocks: a pool rule may take only numbers whose E.164 digits start with
-- a prefix (an operator's range or number block, e.g. 7701 for KZ +7 701 …).
ALTER TABLE project_sources ADD COLUMN prefix text CHECK (prefix ~ '^[0-9]{1,14}$');
DROP INDEX project_sources_key;
CREATE UNIQUE INDEX project_sources_key
    ON project_sources (tenant_id, project_id, COALESCE(provider_id, 0), COALESCE(geo_id, 0), COALESCE(prefix, ''));

-- Households and related numbers: numbers whose attributes named here have the same
-- normalised values form a group. A number belongs to the group of the first rule (by
-- id) whose attributes it all has.
CREATE TABLE number_group_rules (
    tenant_id       bigint NOT NULL REFERENCES tenants (id),
    id              bigint GENERATED ALWAYS AS IDENTITY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    attributes      text[] NOT NULL CHECK (cardinality(attributes) BETWEEN 1 AND 5),
    -- Once one number of a group is in a project, the others go only to that project.
    keep_together   boolean NOT NULL DEFAULT true,
    -- A success on one number parks the group's other numbers.
    park_on_success boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

-- The number's group: the rule's id in the top 16 bits and a hash of the normalised
-- values below, so one column and one index serve every rule and the rule is read back
-- from the key. NULL: in no group (most numbers, and the index skips them).
ALTER TABLE phone_numbers ADD COLUMN group_key bigint;
CREATE INDEX phone_numbers_group_idx ON phone_numbers (tenant_id, group_key) WHERE group_key IS NOT NULL;
