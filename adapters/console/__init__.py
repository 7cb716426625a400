"""The terminal adapter: the embedded default, and a test double for the others."""

from paperboy_adapters.console.adapter import ConsoleAdapter

__all__ = ["ConsoleAdapter"]
