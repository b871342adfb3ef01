"""Fault tests: real ticker processes on a private redis-server, with faults injected."""
