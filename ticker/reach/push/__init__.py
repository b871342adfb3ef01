"""Web Push (RFC 8030) of flash alerts: encrypted per RFC 8291, signed per RFC 8292 (VAPID)."""
