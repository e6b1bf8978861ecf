"""Built-in codecs for the standard XMTP content types, one module per family."""
