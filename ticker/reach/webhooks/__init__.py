"""Webhooks: each configured endpoint receives its feeds' events, signed (Standard Webhooks)."""
