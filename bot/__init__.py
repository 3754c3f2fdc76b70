"""Relais: a Telegram bot that keeps small merchants going between training sessions."""

__version__ = "0.1.0"
