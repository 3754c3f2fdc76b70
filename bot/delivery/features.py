"""The one list of features that plan and render deliveries (like handlers.register)."""

from __future__ import annotations

from bot.delivery.registry import DeliveryRegistry


def build_registry() -> DeliveryRegistry:
    registry = DeliveryRegistry()
    # Each feature adds its planners and renderers here, in bot/services/<area>.py:
    #   from bot.services import sessions; sessions.register_deliveries(registry)
    from bot.services import checkins, reminders

    reminders.register_deliveries(registry)
    checkins.register_deliveries(registry)
    return registry
