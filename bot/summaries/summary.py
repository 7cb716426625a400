"""A summary of one paper in one style and language, whoever wrote it."""

from __future__ import annotations

from dataclasses import dataclass

from paperboy.models import SUMMARY_STYLES

#: The parts of a `structured` summary, in order, with their labels (seed 001's).
SECTION_LABELS = {
    "whats_new": "What's New",
    "technical_details": "Technical Details",
    "performance_highlights": "Performance Highlights",
}
SECTION_KEYS = tuple(SECTION_LABELS)
DEFAULT_STYLE = "structured"


class StyleError(ValueError):
    """Not one of the summary styles."""


def check_style(style: object) -> str:
    text = style.strip().lower() if isinstance(style, str) else ""
    if text not in SUMMARY_STYLES:
        raise StyleError(f"summary style is one of {', '.join(SUMMARY_STYLES)}, not {style!r}")
    return text


@dataclass(frozen=True, slots=True)
class Summary:
    """`sections` (key -> text, every key present) for `structured`; `text` for the
    others (for `structured`, the parts joined with their labels)."""

    style: str
    language: str
    source: str
    text: str
    sections: tuple[tuple[str, str], ...] = ()

    @classmethod
    def structured(cls, language: str, source: str, parts: dict[str, str]) -> Summary:
        sections = tuple((key, parts.get(key, "")) for key in SECTION_KEYS)
        text = "\n".join(f"{SECTION_LABELS[k]}: {v}" for k, v in sections if v)
        return cls("structured", language, source, text, sections)

    @property
    def empty(self) -> bool:
        return not self.text.strip()


def model_summary(style: str, language: str, parts: dict[str, str]) -> Summary:
    """A model's summary from its cleaned answer (`paperboy.summaries.prompt.parts_of`)."""
    if style == "structured":
        return Summary.structured(language, "llm", parts)
    text = parts.get("summary") or parts.get("tldr") or ""
    return Summary(style, language, "llm", text)
