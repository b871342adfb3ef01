"""Subscription filters, compiled once per subscription into a cheap predicate."""

from __future__ import annotations

from ticker.model import Filter

Version = tuple[str | None, list[str], int]  # what a filter looks at: category, regions, urgency


class Matcher:
    """Matches prepared events against a subscription's filter.

    New items must match every given criterion. Corrections and retractions go to whoever may
    have shown the item (``any_of`` its versions), so a reader never keeps showing an item that
    was corrected or pulled.
    """

    __slots__ = ("categories", "max_urgency", "regions")

    def __init__(self, flt: Filter | None) -> None:
        flt = flt or Filter()
        self.categories = frozenset(flt.categories) if flt.categories else None
        self.regions = frozenset(flt.regions) if flt.regions else None
        self.max_urgency = flt.max_urgency

    @property
    def everything(self) -> bool:
        return self.categories is None and self.regions is None and self.max_urgency is None

    def item(self, category: str | None, regions: list[str], urgency: int) -> bool:
        if self.max_urgency is not None and urgency > self.max_urgency:
            return False
        if self.categories is not None and category not in self.categories:
            return False
        return self.regions is None or not self.regions.isdisjoint(regions)

    def any_of(self, versions: list[Version]) -> bool:
        """Whether any of an item's versions passes (the reader may have shown it)."""
        return any(self.item(category, regions, urgency) for category, regions, urgency in versions)
