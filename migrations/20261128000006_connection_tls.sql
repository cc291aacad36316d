-- Whether the last successful connection test was encrypted (sslmode made visible).
ALTER TABLE rm_managed_instances ADD COLUMN last_tls boolean;
