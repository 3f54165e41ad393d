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

-- The number's group: the rule's id (its low 15 bits) in the top bits and a 48-bit hash
-- of the normalised values below, so one column and one index serve every rule and the
-- rule is read back from the key (`group_key >> 48`). NULL: in no group (most numbers, and the index skips them).
ALTER TABLE phone_numbers ADD COLUMN group_key bigint;
CREATE INDEX phone_numbers_group_idx ON phone_numbers (tenant_id, group_key) WHERE group_key IS NOT NULL;

-- A number's group key under the tenant's rules: the first rule (by id) whose attributes
-- the number all has with a value; the values trimmed, spaces collapsed and lower-cased,
-- so "12 Main St " and "12  main st" are one household. IMMUTABLE over its arguments
-- (the rules come in as arrays), so imports, rebuilds and explain compute the same key.
CREATE FUNCTION dialpool_group_key(attributes jsonb, rule_ids bigint[], rule_names text[])
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((r.id & 32767) << 48) | (hashtextextended(array_to_string(ARRAY(
               SELECT lower(regexp_replace(btrim(attributes ->> a.name), '\s+', ' ', 'g'))
                 FROM unnest(string_to_array(r.names, chr(31))) WITH ORDINALITY AS a(name, o) ORDER BY a.o), chr(31)), 0)
            & 281474976710655)
      FROM unnest(rule_ids, rule_names) WITH ORDINALITY AS r(id, names, o)
     WHERE NOT EXISTS (SELECT FROM unnest(string_to_array(r.names, chr(31))) AS a(name)
                        WHERE COALESCE(btrim(attributes ->> a.name), '') = '')
     ORDER BY r.o
     LIMIT 1
$$;
