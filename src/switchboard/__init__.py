"""switchboard: the command-line entry point that starts each service."""
