"""Reach beyond the open page: Web Push to readers' browsers, webhooks to partners' systems.

Both are readers of the feed's log with a durable position kept in the broker
(``ticker.brokers.coordination``), sending through the one guarded outbound client
(``ticker.outbound``).
"""
