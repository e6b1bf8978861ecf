"""ingest: node envelopes into JetStream (see `ingest.service`)."""
