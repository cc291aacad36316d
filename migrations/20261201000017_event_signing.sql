-- Domain events on NATS carry the relay's signature from this version on, and projectors apply
-- only signed ones. Events an earlier version published before signing began sit on the stream
-- below `since_stream_sequence` (recorded once, by the first relay that signs): those are still
-- accepted unsigned. Nothing can be appended to a stream's past, so a forger cannot use it.
CREATE TABLE event_signing
(
    only_row              boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    since_stream_sequence bigint      NOT NULL,
    recorded_at           timestamptz NOT NULL DEFAULT now()
);
