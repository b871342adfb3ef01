"""One configured webhook endpoint: a signed POST and what came of it."""

from __future__ import annotations

import logging
import time

import httpx

from ticker.config import WebhookConfig
from ticker.outbound.client import Answer, Outbound
from ticker.outbound.rules import OriginList, Refused, origin_of
from ticker.reach.events import encode
from ticker.reach.settings import webhook_name, webhook_secret
from ticker.reach.webhooks.signing import headers

log = logging.getLogger("ticker.webhooks")


class Endpoint:
    def __init__(self, hook: WebhookConfig, outbound: Outbound) -> None:
        self.name = webhook_name(hook)
        self.url = hook.url
        self.feeds = list(hook.feeds)
        self.key = webhook_secret(hook.secret)
        self.outbound = outbound
        self.origins = OriginList([str(origin_of(hook.url))])  # this URL's origin only

    async def attempt(self, msg_id: str, body: bytes) -> tuple[Answer | None, str]:
        """One signed POST; the answer (if any) and the outcome: ``delivered`` (2xx),
        ``failed`` (any other status, redirects included), ``network`` or ``refused``."""
        try:
            answer = await self.outbound.post(
                self.url, self.origins, body, headers(self.key, msg_id, int(time.time()), body))
        except Refused as exc:
            log.warning("webhook %s: %s", self.name, exc)
            return None, "refused"
        except httpx.HTTPError as exc:
            log.info("webhook %s: %s: %s", self.name, type(exc).__name__, exc)
            return None, "network"
        if 200 <= answer.status < 300:
            return answer, "delivered"
        log.info("webhook %s: answered %d", self.name, answer.status)
        return answer, "failed"

    async def ping(self) -> tuple[Answer | None, str]:
        """One signed ``{"type": "ping"}`` (``ticker webhooks test``), not retried."""
        body = encode({"type": "ping", "endpoint": self.name, "feeds": self.feeds})
        return await self.attempt(f"ping_{time.time_ns()}", body)
