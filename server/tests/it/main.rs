//! Integration tests against the real PostgreSQL and NATS. One test binary, so the workspace
//! links it once; each test makes its own database and stream prefix.

mod support;

mod alerting;
mod alerting_harness;
mod auth;
mod authz;
mod bindings;
mod chaos;
mod cluster;
mod collector_agent;
mod collectors;
mod core_pipeline;
mod edge;
mod edge_sweep;
mod email_channel;
mod faults;
mod fleet;
mod history;
mod hour_build;
mod http_limits;
mod instance_creds;
mod instance_views;
mod instances;
mod live;
mod logins;
mod metrics;
mod nats_auth;
mod pg_fixture;
mod poison;
mod read_pools;
mod redaction;
mod remote_write;
mod replay;
mod retention;
mod roles;
mod scale_out;
