WITH candidates AS MATERIALIZED (
      SELECT e.tenant_id, e.id FROM exports e
       WHERE e.status = 'running'
         -- Between its row and its run lock an export takes milliseconds.
         AND e.started_at < now() - interval '10 seconds'
         AND NOT EXISTS (SELECT FROM jobs j
                          WHERE j.kind = 'export' AND j.tenant_id = e.tenant_id
                            AND j.args->>'export_id' = e.id::text
                            AND j.state IN ('queued', 'running', 'retrying'))
   ), free AS MATERIALIZED (
      SELECT c.tenant_id, c.id FROM candidates c
       WHERE pg_try_advisory_xact_lock({run_lock})
   )
   UPDATE exports e
      SET status = 'failed', rows = 0, bytes = 0, finished_at = now(),
          error = 'the export stopped before it finished: the process writing it ended'
     FROM free f
    WHERE e.tenant_id = f.tenant_id AND e.id = f.id AND e.status = 'running'
RETURNING e.partial_path
