-- Conversion per day (in the project's time zone) × project × provider × geo, with that
-- day's ISO weekday; written by the conversion job from the events, the exports and the
-- calls, read by the conversion API. Rates are ratios of these sums, so any roll-up is
-- exact; the median is this cell's own.
CREATE TABLE project_conversions (
    tenant_id   bigint NOT NULL,
    project_id  bigint NOT NULL,
    day         date NOT NULL,
    provider_id bigint NOT NULL,
    -- 0 for numbers without a geo, so the key has no NULL.
    geo_id      bigint NOT NULL,
    weekday     smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    allocated   bigint NOT NULL,
    exported    bigint NOT NULL,
    leased      bigint NOT NULL,
    dialed      bigint NOT NULL,
    contacted   bigint NOT NULL,
    success     bigint NOT NULL,
    failure     bigint NOT NULL,
    no_answer   bigint NOT NULL,
    -- Hours from a number's allocation to its success call: the sum (for means across
    -- cells) and this cell's median.
    success_hours_sum    double precision NOT NULL,
    success_hours_median double precision,
    PRIMARY KEY (tenant_id, project_id, day, provider_id, geo_id)
);
CREATE INDEX project_conversions_day_idx ON project_conversions (tenant_id, day);

-- One row: how far the job has read. Rows stamped from `watermark` on may not be in the
-- aggregates yet; the next refresh recomputes every cell they touch.
CREATE TABLE conversion_state (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    watermark    timestamptz,
    refreshed_at timestamptz,
    full_at      timestamptz
);
INSERT INTO conversion_state DEFAULT VALUES;

-- When the number was allocated to the project, at the time of the call: the hours to
-- a success are read from the call alone, without joining the numbers.
ALTER TABLE call_outcomes ADD COLUMN allocated_at timestamptz;
UPDATE call_outcomes o SET allocated_at = n.allocated_at
  FROM phone_numbers n
 WHERE n.tenant_id = o.tenant_id AND n.phone = o.phone AND n.project_id = o.project_id;

-- The job finds new rows by time. These tables grow in time order, so block ranges are
-- nearly free to keep and narrow a scan to the recent blocks.
CREATE INDEX call_outcomes_received_brin ON call_outcomes USING brin (received_at);
CREATE INDEX call_outcomes_started_brin ON call_outcomes USING brin (started_at);
CREATE INDEX number_events_at_brin ON number_events USING brin (at);
