-- What a bulk status change ($3) is about to replace, for each number it will change.
INSERT INTO bulk_change_numbers (tenant_id, change_id, phone, status_from, next_eligible_at)
SELECT $1, $2, n.phone, n.status, n.next_eligible_at
  FROM bulk_selection b
  JOIN phone_numbers n ON n.tenant_id = $1 AND n.phone = b.phone
 WHERE n.status <> $3
