"""Sans-I/O fan-out: nothing here imports asyncio, sockets or Redis."""

from ticker.hub.filters import Matcher
from ticker.hub.hub import Hub, NeedLog, Outcome
from ticker.hub.outbox import Outbox

__all__ = ["Hub", "Matcher", "NeedLog", "Outbox", "Outcome"]
