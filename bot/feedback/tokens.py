"""Signed feedback buttons and hashed user ids, from the install's secret.

A feedback button carries the paper's id and a token: a MAC over (the channel it was made
for, the paper). A click is taken as coming from the channel the platform says it was
pressed in (the signed Slack payload, the Discord gateway's interaction), exactly as the
"Share in channel" button takes it, and the token must be that channel's: a button
copied or forged into another channel, or edited to name another paper, is refused.

User ids are never stored: `user_hash` keys a salted HMAC of the platform's user id with
the same secret, so two installs cannot link their users, and `user_label` is the short
form shown in `/papers saved` ("user 3f9c2a1b").
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from paperboy.models import Target

#: What a button can do; `clear` (CLI and typed command only) removes a user's feedback.
VOTES = ("up", "down", "save")
ACTIONS = (*VOTES, "clear")
TOKEN_LENGTH = 16
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16}")
#: arXiv ids and the archive's other keys: no spaces, no separators the values use.
_PAPER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}")


@dataclass(frozen=True)
class FeedbackSigner:
    """Tokens for buttons and hashes for users, from one install secret (bytes)."""

    secret: bytes

    @functools.cached_property
    def _button(self) -> Any:
        """The buttons' HMAC, keyed once (a fan-out signs every paper of every channel)."""
        return hmac.new(self._key("button"), digestmod=hashlib.sha256)

    def _key(self, purpose: str) -> bytes:
        return hmac.new(self.secret, purpose.encode(), hashlib.sha256).digest()

    def token(self, target: Target, paper_id: str) -> str:
        """The button token of `paper_id` in `target`'s messages (16 URL-safe characters)."""
        mac = self._button.copy()
        mac.update(f"{target.key}\n{paper_id}".encode())
        return base64.urlsafe_b64encode(mac.digest()[:12]).decode()

    def check(self, target: Target, paper_id: str, token: str) -> bool:
        """Whether `token` is the one this install made for `paper_id` in `target`."""
        if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
            return False
        return hmac.compare_digest(self.token(target, paper_id), token)

    def tokens(self, target: Target, paper_ids: list[str]) -> tuple[tuple[str, str], ...]:
        """(paper id, token) pairs for a digest's buttons."""
        return tuple((pid, self.token(target, pid)) for pid in dict.fromkeys(paper_ids))

    def user_hash(self, platform: str, workspace: str, user: str) -> str:
        """The stored form of a user id: 32 hex digits, not reversible without the secret."""
        message = f"{platform}\n{workspace}\n{user}".encode()
        return hmac.new(self._key("user"), message, hashlib.sha256).hexdigest()[:32]


def user_label(user_hash: str) -> str:
    """How a hashed user is shown: 'user' and the first 8 hex digits."""
    return f"user {user_hash[:8]}"


def is_paper_id(text: str) -> bool:
    """Whether `text` can be an archive key (checked before any lookup)."""
    return bool(_PAPER_RE.fullmatch(text))


def is_token(text: str) -> bool:
    """Whether `text` has a token's shape (checked before the MAC is)."""
    return bool(_TOKEN_RE.fullmatch(text))
