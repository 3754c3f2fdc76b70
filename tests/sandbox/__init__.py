"""Tests of the sandbox Bot API and the user simulator (bot/sandbox)."""
