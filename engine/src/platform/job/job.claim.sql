WITH next AS (
   SELECT id FROM jobs
    WHERE kind = ANY($2)
      AND ((state IN ('queued', 'retrying') AND run_at <= now())
           OR (state = 'running' AND locked_until < now()))
    ORDER BY priority DESC, run_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs j
   SET state = 'running', attempts = j.attempts + 1, locked_by = $1,
       locked_until = now() + make_interval(secs => $3), started_at = now(),
       cancel_requested = false
  FROM next WHERE j.id = next.id
RETURNING j.id, j.tenant_id, j.kind, j.args, j.attempts, j.max_attempts
