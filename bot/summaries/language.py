"""Summary languages: BCP 47 tags checked against the IANA registry (`langcodes`)."""

from __future__ import annotations

import langcodes

DEFAULT_LANGUAGE = "en"

#: Names for the prompt; any other valid tag is named by its tag.
_NAMES = {
    "en": "English",
    "ko": "Korean",
    "ja": "Japanese",
    "zh": "Chinese",
    "zh-Hans": "Simplified Chinese",
    "zh-Hant": "Traditional Chinese",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "pt": "Portuguese",
    "pt-BR": "Brazilian Portuguese",
    "it": "Italian",
    "nl": "Dutch",
    "pl": "Polish",
    "ru": "Russian",
    "uk": "Ukrainian",
    "tr": "Turkish",
    "ar": "Arabic",
    "he": "Hebrew",
    "hi": "Hindi",
    "vi": "Vietnamese",
    "th": "Thai",
    "id": "Indonesian",
    "sv": "Swedish",
    "da": "Danish",
    "fi": "Finnish",
    "no": "Norwegian",
    "cs": "Czech",
    "el": "Greek",
    "fa": "Persian",
}


class LanguageError(ValueError):
    """A language tag that is not valid BCP 47."""


def normalize_language(tag: object) -> str:
    """The canonical form of a BCP 47 tag (`ZH-hans` -> `zh-Hans`), or LanguageError."""
    if not isinstance(tag, str) or not tag.strip() or len(tag) > 35:
        raise LanguageError(f"{str(tag)[:40]!r} is not a language tag like en, ko or zh-Hans")
    text = tag.strip().replace("_", "-")
    try:
        valid = langcodes.tag_is_valid(text)
        canonical = langcodes.standardize_tag(text) if valid else ""
    except (ValueError, LookupError):
        valid = False
    if not valid:
        raise LanguageError(f"{tag[:40]!r} is not a language tag like en, ko or zh-Hans")
    return canonical


def is_english(tag: str) -> bool:
    return tag.split("-", 1)[0].lower() == "en"


def language_name(tag: str) -> str:
    """A name for the prompt: `Korean`, or `the language with BCP 47 tag xx`."""
    if tag in _NAMES:
        return _NAMES[tag]
    base = tag.split("-", 1)[0]
    if base in _NAMES and base != "zh":
        return f"{_NAMES[base]} ({tag})"
    return f"the language with BCP 47 tag {tag}"
