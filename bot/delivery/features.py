"""The one list of features that plan and render deliveries (like handlers.register)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.delivery.registry import DeliveryRegistry

if TYPE_CHECKING:
    from bot.content import ContentLibrary


def build_registry(content: ContentLibrary) -> DeliveryRegistry:
    """`content`: the tips library of the Runtime (`runtime.content`)."""
    registry = DeliveryRegistry()
    # Each feature adds its planners and renderers here, in bot/services/<area>.py:
    #   from bot.services import sessions; sessions.register_deliveries(registry)
    from bot.services import (
        booster,
        broadcasts,
        challenges,
        checkins,
        privacy,
        progress,
        reminders,
        tips,
        trio_week,
    )

    reminders.register_deliveries(registry)
    checkins.register_deliveries(registry)
    tips.register_deliveries(registry, content)
    broadcasts.register_deliveries(registry, content)
    privacy.register_deliveries(registry)
    progress.register_deliveries(registry)
    trio_week.register_deliveries(registry, content)
    booster.register_deliveries(registry, content)
    challenges.register_deliveries(registry, content)
    return registry
