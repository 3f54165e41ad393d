-- Calls by the hour of the day they started, in the project's zone: the weekday × hour
-- heat map (when to call). The cells of project_conversions split by hour; calls only,
-- since allocation and export have no bearing on when a person answers.
CREATE TABLE project_conversion_hours (
    tenant_id   bigint NOT NULL,
    project_id  bigint NOT NULL,
    day         date NOT NULL,
    provider_id bigint NOT NULL,
    geo_id      bigint NOT NULL,
    hour        smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    weekday     smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    dialed      bigint NOT NULL,
    contacted   bigint NOT NULL,
    success     bigint NOT NULL,
    PRIMARY KEY (tenant_id, project_id, day, provider_id, geo_id, hour)
);
CREATE INDEX project_conversion_hours_day_idx ON project_conversion_hours (tenant_id, day);

-- The new grain starts empty: the next refresh is a full one.
UPDATE conversion_state SET watermark = NULL;
