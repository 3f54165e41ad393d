-- Dialers and softphones: leases, calling hours, call outcomes and the disposition map.

-- A leased number is out to one dialer until `leased_until`; an outcome or the expiry
-- gives it back. Only numbers a project holds and nobody leases are in this index, in
-- the order a lease hands them out: due retries and call-backs by due time, then fresh
-- ones (NULL). A final status parks a number at 'infinity', past every lease's "now".
CREATE INDEX phone_numbers_lease_idx
    ON phone_numbers (tenant_id, project_id, next_eligible_at, phone)
    WHERE project_id IS NOT NULL AND leased_until IS NULL;
-- Expired leases are found and returned by this one.
CREATE INDEX phone_numbers_leased_idx
    ON phone_numbers (tenant_id, project_id, leased_until) WHERE leased_until IS NOT NULL;

-- What happens to a project's number when an outcome gives it a final status (success,
-- failure, invalid, dnc) or it reaches max attempts: it stays with the project (its
-- history there is complete) or goes back to the shared pool. Exclusive projects keep.
ALTER TABLE projects ADD COLUMN on_final text NOT NULL DEFAULT 'keep' CHECK (on_final IN ('keep', 'release'));

-- When a number may be called in its own local time. The most specific rule wins: the
-- number's region geo, then its country geo, then the tenant's default (geo_id NULL);
-- without any rule 08:00-21:00 applies. `max_calls_24h` caps calls to one number in
-- any 24 hours.
CREATE TABLE calling_hours (
    tenant_id     bigint NOT NULL REFERENCES tenants (id),
    id            bigint GENERATED ALWAYS AS IDENTITY,
    geo_id        bigint,
    start_local   time NOT NULL,
    end_local     time NOT NULL,
    max_calls_24h smallint CHECK (max_calls_24h > 0),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, geo_id) REFERENCES geos (tenant_id, id) ON DELETE CASCADE,
    CHECK (start_local < end_local)
);
CREATE UNIQUE INDEX calling_hours_geo_key ON calling_hours (tenant_id, COALESCE(geo_id, 0));

-- A dialer's disposition (Asterisk's ANSWERED / NO ANSWER / BUSY, VICIdial's SALE, NA,
-- DNC ...) to the status it gives a number. Keys are upper case; `dnc` also lists the
-- number as do-not-call.
CREATE TABLE disposition_map (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    disposition text NOT NULL CHECK (disposition = upper(disposition) AND length(disposition) BETWEEN 1 AND 40),
    status_id   smallint NOT NULL,
    dnc         boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, disposition),
    FOREIGN KEY (tenant_id, status_id) REFERENCES number_statuses (tenant_id, id)
);

-- One row per call, by the dialer's call id: posting it again changes nothing.
CREATE TABLE call_outcomes (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    call_id     text NOT NULL CHECK (length(call_id) BETWEEN 1 AND 200),
    phone       bigint NOT NULL,
    project_id  bigint,
    disposition text NOT NULL,
    status_from smallint,
    status_to   smallint NOT NULL,
    started_at  timestamptz NOT NULL,
    answered_at timestamptz,
    ended_at    timestamptz,
    duration_s  integer CHECK (duration_s >= 0),
    agent       text,
    notes       text,
    -- 'api', or the file the outcome came from.
    source      text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, call_id)
);
CREATE INDEX call_outcomes_phone_idx ON call_outcomes (tenant_id, phone, started_at);

CREATE OR REPLACE FUNCTION dialpool_seed_dispositions(tenant bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO disposition_map (tenant_id, disposition, status_id, dnc)
    SELECT tenant, d.disposition, s.id, d.dnc
      FROM (VALUES ('ANSWERED', 'in_work', false), ('NO ANSWER', 'no_answer', false), ('NA', 'no_answer', false),
                   ('BUSY', 'busy', false), ('B', 'busy', false), ('CONGESTION', 'busy', false),
                   ('FAILED', 'invalid', false), ('SALE', 'success', false), ('SUCCESS', 'success', false),
                   ('REFUSED', 'refused', false), ('NI', 'refused', false), ('CALLBACK', 'callback', false),
                   ('CALLBK', 'callback', false), ('DNC', 'dnc', true), ('DO NOT CALL', 'dnc', true))
           AS d(disposition, code, dnc)
      JOIN number_statuses s ON s.tenant_id = tenant AND s.code = d.code
    ON CONFLICT DO NOTHING;
$$;

SELECT dialpool_seed_dispositions(id) FROM tenants;

CREATE OR REPLACE FUNCTION dialpool_seed_tenant_dispositions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dialpool_seed_dispositions(NEW.id);
    UPDATE roles SET permissions = array_append(permissions, 'calls.work')
     WHERE tenant_id = NEW.id AND built_in AND name IN ('admin', 'manager') AND NOT 'calls.work' = ANY(permissions);
    RETURN NEW;
END $$;

-- Runs after the statuses are seeded (triggers fire in name order).
CREATE TRIGGER tenants_seed_zz_dispositions AFTER INSERT ON tenants
    FOR EACH ROW EXECUTE FUNCTION dialpool_seed_tenant_dispositions();

-- Numbers already parked in a final status must not be handed out by leases.
UPDATE phone_numbers n SET next_eligible_at = 'infinity'
  FROM number_statuses s
 WHERE s.tenant_id = n.tenant_id AND s.id = n.status
   AND s.category IN ('success', 'failure', 'invalid', 'dnc') AND n.next_eligible_at IS NULL;

-- Dialers and softphones authenticate with tokens holding this permission.
UPDATE roles SET permissions = array_append(permissions, 'calls.work')
 WHERE built_in AND name IN ('admin', 'manager') AND NOT 'calls.work' = ANY(permissions);
