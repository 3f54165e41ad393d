-- The provider scorecard per batch (import) and per number block, with the median
-- attempts and hours a success took; and rows an import refused that its provider may
-- take back. Keyed by tenant like the rest; one subcommand per ALTER TABLE.

-- The import that brought a number, on its allocation event and on its calls, so that
-- the conversion refresh counts outcomes per batch without joining 50M numbers.
ALTER TABLE call_outcomes ADD COLUMN import_id bigint;
-- The number's calls so far, this one included: the attempts its success took.
ALTER TABLE call_outcomes ADD COLUMN attempt integer;

-- What the rows stored before these columns knew, in one pass over the calls. A
-- one-time cost proportional to the calls and allocation events kept; erased numbers
-- (phone 0) stay without an import or an attempt.
UPDATE call_outcomes o SET import_id = r.import_id, attempt = r.attempt
  FROM (SELECT c.tenant_id, c.call_id, c.started_at, n.import_id,
               row_number() OVER (PARTITION BY c.tenant_id, c.phone ORDER BY c.started_at, c.call_id) AS attempt
          FROM call_outcomes c
          LEFT JOIN phone_numbers n ON n.tenant_id = c.tenant_id AND n.phone = c.phone
         WHERE c.phone <> 0) r
 WHERE r.tenant_id = o.tenant_id AND r.call_id = o.call_id AND r.started_at = o.started_at;
UPDATE number_events e SET import_id = n.import_id
  FROM phone_numbers n
 WHERE e.kind = 'allocated' AND e.import_id IS NULL AND n.tenant_id = e.tenant_id AND n.phone = e.phone;

-- What a provider's numbers came to per day (in the project's zone, as in
-- project_conversions) and per one of three keys: the geo (1), the import (2) or the
-- number block (3: the first six digits of the number, 0 when unknown). Projects are
-- summed: the scorecard asks about providers. Each call, allocation and success is
-- counted once per dimension.
CREATE TABLE provider_outcomes (
    tenant_id   bigint NOT NULL,
    dimension   smallint NOT NULL CHECK (dimension BETWEEN 1 AND 3),
    day         date NOT NULL,
    provider_id bigint NOT NULL,
    key         bigint NOT NULL,
    allocated   bigint NOT NULL,
    dialed      bigint NOT NULL,
    contacted   bigint NOT NULL,
    success     bigint NOT NULL,
    success_hours_sum double precision NOT NULL,
    -- Successes by the attempt that made them: element i counts attempt i, the last one
    -- that many or more. Histograms add up across rows, so a median over any roll-up
    -- is read from their sum; trailing zeros are left off.
    success_attempts bigint[] NOT NULL,
    -- Successes by hours from allocation: one bucket per hour of the first day, one per
    -- day up to 30 days, then one for the rest.
    success_hours bigint[] NOT NULL,
    PRIMARY KEY (tenant_id, dimension, day, provider_id, key)
);

-- A number an import refused that a provider may be asked to take back: one on the DNC
-- list at delivery, or one this provider had sold before. Kept only for providers whose
-- return rules name these reasons.
CREATE TABLE import_refusals (
    tenant_id bigint NOT NULL,
    import_id bigint NOT NULL,
    phone     bigint NOT NULL,
    reason    text NOT NULL CHECK (reason IN ('dnc_at_delivery', 'duplicate')),
    PRIMARY KEY (tenant_id, import_id, phone)
);
CREATE INDEX import_refusals_phone_idx ON import_refusals (tenant_id, phone);

-- A number goes back once per delivery: a re-sold duplicate and the first sale are two.
ALTER TABLE provider_return_numbers DROP CONSTRAINT provider_return_numbers_pkey;
ALTER TABLE provider_return_numbers ADD PRIMARY KEY (tenant_id, import_id, phone);
CREATE INDEX provider_return_numbers_phone_idx ON provider_return_numbers (tenant_id, phone);

-- The new aggregate starts empty: the next refresh is a full one.
UPDATE conversion_state SET watermark = NULL;
