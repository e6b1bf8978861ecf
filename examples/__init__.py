"""Agents to copy: each module defines `agent`, run with `switchboard router --app examples.<name>:agent`."""
