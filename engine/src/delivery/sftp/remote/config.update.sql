UPDATE sftp_remotes
  SET name = $3, host = $4, port = $5, username = $6,
      password_sealed = COALESCE($7, password_sealed),
      private_key_sealed = COALESCE($8, private_key_sealed),
      direction = $9, remote_dir = $10, file_pattern = $11, after_pull = $12, move_to = $13,
      provider_id = $14, import_options = $15, enabled = $16,
      host_key = CASE WHEN (host, port) = ($4, $5) THEN host_key END,
      offered_host_key = CASE WHEN (host, port) = ($4, $5) THEN offered_host_key END,
      updated_at = now()
WHERE tenant_id = $1 AND id = $2
