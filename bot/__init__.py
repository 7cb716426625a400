"""paperboy: the day's research papers, matched to each channel's subscriptions."""

__version__ = "0.1.0"
