-- Leases cache each tenant's calling-hours gate for the minute; this version tells them
-- when the rules it is made of (calling hours, geos and their time zones) changed. A
-- table row, not a sequence: it changes when the change commits, never before.
CREATE TABLE calling_rules_version (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version  bigint NOT NULL DEFAULT 0
);
INSERT INTO calling_rules_version DEFAULT VALUES;

CREATE FUNCTION dialpool_bump_calling_rules_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE calling_rules_version SET version = version + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER calling_hours_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON calling_hours
    FOR EACH STATEMENT EXECUTE FUNCTION dialpool_bump_calling_rules_version();
CREATE TRIGGER geos_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON geos
    FOR EACH STATEMENT EXECUTE FUNCTION dialpool_bump_calling_rules_version();
