"""MLS (RFC 9420) for Switchboard: wire codec, cipher suites, HPKE, key schedule, trees and groups.

This package knows nothing of XMTP; it holds pure functions and plain objects and does no I/O.
"""
