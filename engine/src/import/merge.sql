-- Merges one batch of import_staging into phone_numbers and says what became of every
-- staged row that was not written.
--   $1 tenant, $2 provider, $3 this import's id{update_params}
-- Rows: one per staged row not written (ord, reason), then one summary row
-- (NULL, NULL, updated) with how many written rows were updates rather than inserts.
--
-- The batch has no duplicates of its own (the reader drops them); a conflict with a row
-- whose last_import_id is this import is a duplicate of an earlier batch of the same file.
-- The scalar subquery runs only for rows that were not written and, being correlated on
-- the partition key, probes one partition's primary key each time.
WITH written AS (
    INSERT INTO phone_numbers AS p
           (tenant_id, phone, provider_id, geo_id, import_id, last_import_id, attributes)
    SELECT $1, s.phone, $2, s.geo_id, $3, $3, s.attributes
    FROM import_staging s
    WHERE NOT s.dnc
    ORDER BY s.phone
    {on_conflict}
    -- import_id is set on insert and never updated, so it tells inserts from updates
    -- (xmax cannot be read back from a partitioned table).
    RETURNING p.phone, p.import_id = $3 AS inserted
)
SELECT s.ord,
       CASE WHEN s.dnc THEN 'dnc'
            WHEN (SELECT e.last_import_id FROM phone_numbers e
                  WHERE e.tenant_id = $1 AND e.phone = s.phone) = $3 THEN 'duplicate_in_file'
            ELSE 'duplicate_existing'
       END AS reason,
       NULL::bigint AS updated
FROM import_staging s
WHERE NOT EXISTS (SELECT 1 FROM written w WHERE w.phone = s.phone)
UNION ALL
SELECT NULL, NULL, count(*) FILTER (WHERE NOT inserted) FROM written
