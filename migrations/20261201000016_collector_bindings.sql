-- Collectors bound to managed instances: a collector may report only the instances it is bound
-- to, and an instance's charts show only data from collectors bound to it (before this, any
-- collector could write into any instance's charts by naming it in a batch).

-- The instances a registration secret binds the collectors it registers to, set by the admin
-- at creation. Command-side state next to the secret's hash, read at registration (the
-- secret's RegistrationSecretInstancesSet event carries the same list for history).
ALTER TABLE registration_secret_lookup ADD COLUMN instance_ids uuid[] NOT NULL DEFAULT '{}';

-- Read model of CollectorInstancesBound: one row per (collector, managed instance) binding.
-- Written by the collectors projector; read by the metrics projectors (refuse a batch about an
-- instance the collector is not bound to) and by the series queries (an instance's charts).
CREATE TABLE rm_collector_instances
(
    collector_id uuid NOT NULL,
    instance_id  uuid NOT NULL,
    PRIMARY KEY (collector_id, instance_id)
);

-- Which collectors may report an instance: the series query by instance.
CREATE INDEX rm_collector_instances_instance ON rm_collector_instances (instance_id);

-- The instances shown with a registration secret in the admin's list.
ALTER TABLE rm_registration_secrets ADD COLUMN instance_ids uuid[] NOT NULL DEFAULT '{}';
