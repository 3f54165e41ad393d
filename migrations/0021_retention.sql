-- Retention by partition: a tenant says how long number events, the audit log and call
-- outcomes are kept (and export files); a daily job detaches and drops whole monthly
-- partitions past the window, never deleting row by row. NULL keeps for ever.
CREATE TABLE tenant_retention (
    tenant_id         bigint PRIMARY KEY REFERENCES tenants (id),
    events_months     integer CHECK (events_months BETWEEN 1 AND 1200),
    -- Audit logs are kept a year at least: an auditor asks about last year.
    audit_months      integer CHECK (audit_months BETWEEN 12 AND 1200),
    outcomes_months   integer CHECK (outcomes_months BETWEEN 1 AND 1200),
    export_files_days integer CHECK (export_files_days BETWEEN 1 AND 3650),
    -- Write each dropped partition's rows of this tenant to Parquet in the data directory first.
    archive_parquet   boolean NOT NULL DEFAULT false,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- What the retention job dropped, for the settings page and the compliance report.
CREATE TABLE retention_drops (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent      text NOT NULL,
    partition   text NOT NULL,
    month       date NOT NULL,
    rows        bigint NOT NULL,
    archived    text[] NOT NULL DEFAULT '{}',
    dropped_at  timestamptz NOT NULL DEFAULT now()
);

-- Call outcomes get the key monthly partitions need: the call's start is part of it. A
-- call id stays unique in practice: an outcome posted again is found by (tenant, call id)
-- before it is stored, whatever start it claims.
ALTER TABLE call_outcomes RENAME TO call_outcomes_unpartitioned;
ALTER INDEX call_outcomes_pkey RENAME TO call_outcomes_unpartitioned_pkey;
ALTER INDEX call_outcomes_phone_idx RENAME TO call_outcomes_unpartitioned_phone_idx;
ALTER INDEX call_outcomes_received_brin RENAME TO call_outcomes_unpartitioned_received_brin;
ALTER INDEX call_outcomes_started_brin RENAME TO call_outcomes_unpartitioned_started_brin;
CREATE TABLE call_outcomes (LIKE call_outcomes_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (started_at);
ALTER TABLE call_outcomes ADD CONSTRAINT call_outcomes_pkey PRIMARY KEY (tenant_id, call_id, started_at);
CREATE INDEX call_outcomes_call_idx ON call_outcomes (tenant_id, call_id);
CREATE INDEX call_outcomes_phone_idx ON call_outcomes (tenant_id, phone, started_at);
CREATE INDEX call_outcomes_received_brin ON call_outcomes USING brin (received_at);
CREATE TABLE call_outcomes_default PARTITION OF call_outcomes DEFAULT;
INSERT INTO call_outcomes SELECT * FROM call_outcomes_unpartitioned;
DROP TABLE call_outcomes_unpartitioned;

-- Creates the partition of `parent` for the month starting `month`, moving its rows out
-- of the default partition; `col` is the partition key. Returns the partition's name, or
-- NULL when it existed.
CREATE FUNCTION dialpool_month_partition(parent text, col text, month date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    part text := format('%s_%s', parent, to_char(month, 'YYYY_MM'));
    next date := (month + interval '1 month')::date;
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('dialpool.partition_maintenance', 'on', true);
    -- Serialise with writers while rows move out of the default partition.
    EXECUTE format('LOCK TABLE %I IN SHARE ROW EXCLUSIVE MODE', parent);
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
    EXECUTE format(
        'WITH moved AS (DELETE FROM %I WHERE %I >= %L::timestamptz AND %I < %L::timestamptz RETURNING *) '
        'INSERT INTO %I SELECT * FROM moved',
        parent || '_default', col, month::text || ' 00:00:00+00', col, next::text || ' 00:00:00+00', part);
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
        parent, part, month::text || ' 00:00:00+00', next::text || ' 00:00:00+00');
    PERFORM set_config('dialpool.partition_maintenance', 'off', true);
    RETURN part;
END $$;

-- The monthly partitions of every partitioned log, now with call outcomes.
CREATE OR REPLACE FUNCTION dialpool_ensure_monthly_partitions(months_ahead integer DEFAULT 3)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    logs   text[][] := ARRAY[['number_events', 'at'], ['audit_log', 'at'], ['call_outcomes', 'started_at']];
    month  date;
    made   text;
BEGIN
    IF months_ahead < 0 OR months_ahead > 120 THEN
        RAISE EXCEPTION 'months_ahead must be between 0 and 120, got %', months_ahead;
    END IF;
    FOR l IN 1..array_length(logs, 1) LOOP
        FOR i IN 0..months_ahead LOOP
            month := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))::date;
            made := dialpool_month_partition(logs[l][1], logs[l][2], month);
            IF made IS NOT NULL THEN
                RETURN NEXT made;
            END IF;
        END LOOP;
    END LOOP;
END $$;

SELECT dialpool_ensure_monthly_partitions();
