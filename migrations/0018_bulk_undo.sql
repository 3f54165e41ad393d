-- A status change made by hand to many numbers at once can be undone: the change and each
-- number's status and due time before it are kept for a day (the retention job removes
-- older ones). Undo restores only numbers still in the status the change gave them, so a
-- call outcome that came in since is never overwritten.
CREATE TABLE bulk_changes (
    tenant_id     bigint NOT NULL REFERENCES tenants (id),
    id            bigint GENERATED ALWAYS AS IDENTITY,
    actor_user_id bigint,
    status_to     smallint NOT NULL,
    numbers       bigint NOT NULL CHECK (numbers >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    undone_at     timestamptz,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE bulk_change_numbers (
    tenant_id        bigint NOT NULL,
    change_id        bigint NOT NULL,
    phone            bigint NOT NULL,
    status_from      smallint NOT NULL,
    next_eligible_at timestamptz,
    PRIMARY KEY (tenant_id, change_id, phone),
    FOREIGN KEY (tenant_id, change_id) REFERENCES bulk_changes (tenant_id, id) ON DELETE CASCADE
);
