"""Slack: slack-bolt AsyncApp (Socket Mode and HTTP mode), Block Kit rendering."""

from paperboy_adapters.slack.adapter import SlackAdapter

__all__ = ["SlackAdapter"]
