"""xmtp_core: the one library every Switchboard service shares (wire protos, MLS, identity, content, store)."""
