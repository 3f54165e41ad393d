-- A fresh installation has one tenant, so the CLI works before anyone configures tenants.
INSERT INTO tenants (slug, name) VALUES ('default', 'Default') ON CONFLICT (slug) DO NOTHING;
SELECT dialpool_ensure_monthly_partitions(3);
