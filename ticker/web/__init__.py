"""Starlette routes: the HTTP API, operators' endpoints and pages. Thin by design."""
