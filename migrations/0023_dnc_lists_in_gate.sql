-- Leases cache the gate for the minute, with what stale blocking do-not-call lists hold
-- back; a list set, changed or loaded again makes the cached gates old at once.
CREATE TRIGGER dnc_lists_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dnc_lists
    FOR EACH STATEMENT EXECUTE FUNCTION dialpool_bump_calling_rules_version();
