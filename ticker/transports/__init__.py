"""Transports: the only code that touches reader sockets (WebSocket, SSE)."""
