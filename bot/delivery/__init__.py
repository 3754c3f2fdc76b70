"""The outbox: planner (what is due) and dispatcher (sending within Telegram's limits)."""
