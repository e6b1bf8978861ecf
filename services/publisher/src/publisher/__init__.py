"""publisher: envelopes from JetStream to the XMTP node (see `publisher.service`)."""
