"""Configuration: one Settings object read from the environment and `.env`."""

from paperboy_config.problems import settings_problems
from paperboy_config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings", "settings_problems"]
