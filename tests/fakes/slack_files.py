"""Slack's external file upload flow for the fake Slack (what `files_upload_v2` calls).

1. `files.getUploadURLExternal` (scope `files:write`, Tier 4): `filename` and `length`
   required; `length` must be a positive integer (`missing_argument` for 0, Slack's own
   reading of it), at most 1 GB (`file_upload_size_restricted`); `alt_txt` at most 1000
   characters (`alt_txt_too_large`). Answers `{"ok": true, "upload_url", "file_id"}`.
2. `POST <upload_url>` with the bytes (raw, or a multipart `file` field): 200 `OK - <n>`.
   An unknown or already used URL is a 404; bytes of another length than announced leave
   the upload unusable (completing it answers `file_upload_failed`).
3. `files.completeUploadExternal` (`files:write`): `files` a JSON array of `{"id",
   "title"}`, every id an upload of this token with its bytes received
   (`file_not_found` otherwise, `invalid_arguments` for a malformed array); each file
   completes once. With `channel_id` (or `channels`) the files are shared there in one
   new message from the bot, carrying `files` (id, name, title, mimetype, size) and the
   `blocks` (a JSON string, validated like a chat.postMessage's) unless
   `initial_comment` is given, which Slack then uses as the text and ignores `blocks`.
   The channel checks are chat.postMessage's (`channel_not_found`, `is_archived`,
   `not_in_channel` when the bot is not a member: sharing a file needs membership).
   Without a channel the files stay private. Answers `{"ok": true, "files": [{"id",
   "title"}]}`.

Faults are injected as for any method; the upload step's under the method name
`files.upload`. An upload that was never completed is never visible in a channel.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

MAX_FILE_BYTES = 1024**3
MAX_ALT_TEXT = 1000
UPLOAD_METHOD = "files.upload"


@dataclass
class FakeFile:
    id: str
    name: str
    length: int
    alt_txt: str | None
    data: bytes | None = None
    title: str | None = None
    completed: bool = False
    shared_in: tuple[str, ...] = ()

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title or self.name,
            "mimetype": "image/png" if self.name.endswith(".png") else "application/octet-stream",
            "filetype": self.name.rsplit(".", 1)[-1] if "." in self.name else "binary",
            "size": len(self.data or b""),
            "alt_txt": self.alt_txt,
        }


class SlackFiles:
    """Mixin for FakeSlack: the upload flow above. Needs `files_state()` called in
    `__init__`, the route from `file_routes()`, and `file_handlers()` in the dispatch."""

    scopes: set[str]
    channels: dict[str, Any]
    origin: str

    def files_state(self) -> None:
        self.files: dict[str, FakeFile] = {}
        self._uploads: dict[str, str] = {}  # upload id -> file id

    def uploaded(self, channel_id: str) -> list[FakeFile]:
        """The files shared into a channel, oldest first."""
        return [f for f in self.files.values() if channel_id in f.shared_in]

    def file_routes(self, app: web.Application) -> None:
        app.router.add_post("/upload/v1/{upload_id}", self._upload)

    def file_handlers(self) -> dict[str, Any]:
        return {
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    # -- step 1 ------------------------------------------------------------------------

    def _get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        if "files:write" not in self.scopes:
            return {"ok": False, "error": "missing_scope", "needed": "files:write"}
        name = args.get("filename")
        raw_length = args.get("length")
        if not name or raw_length in (None, ""):
            return {"ok": False, "error": "invalid_arguments"}
        try:
            length = int(str(raw_length))
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        if length <= 0:
            return {"ok": False, "error": "missing_argument"}
        if length > MAX_FILE_BYTES:
            return {"ok": False, "error": "file_upload_size_restricted"}
        alt = args.get("alt_txt")
        if alt is not None and len(str(alt)) > MAX_ALT_TEXT:
            return {"ok": False, "error": "alt_txt_too_large"}
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        upload_id = uuid.uuid4().hex
        self.files[file_id] = FakeFile(
            file_id, str(name), length, None if alt is None else str(alt)
        )
        self._uploads[upload_id] = file_id
        return {
            "ok": True,
            "upload_url": f"{self.origin}/upload/v1/{upload_id}",
            "file_id": file_id,
        }

    # -- step 2 ------------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        fault = self._next_fault(UPLOAD_METHOD)  # type: ignore[attr-defined]
        if fault is not None:
            await self.delay(fault.delay)  # type: ignore[attr-defined]
            if fault.status is not None and not fault.perform:
                return web.Response(status=fault.status, text="upload failed")
        file_id = self._uploads.pop(request.match_info["upload_id"], None)
        if file_id is None:
            return web.Response(status=404, text="Not Found")
        data = await _file_bytes(request)
        self.files[file_id].data = data
        if fault is not None and fault.status is not None:
            return web.Response(status=fault.status, text="upload failed")
        return web.Response(status=200, text=f"OK - {len(data)}")

    # -- step 3 ------------------------------------------------------------------------

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        if "files:write" not in self.scopes:
            return {"ok": False, "error": "missing_scope", "needed": "files:write"}
        try:
            listed = json.loads(args.get("files") or "")
        except (TypeError, ValueError):
            return {"ok": False, "error": "invalid_arguments"}
        if (
            not isinstance(listed, list)
            or not listed
            or not all(isinstance(f, dict) and isinstance(f.get("id"), str) for f in listed)
        ):
            return {"ok": False, "error": "invalid_arguments"}
        chosen: list[FakeFile] = []
        for item in listed:
            found = self.files.get(item["id"])
            if found is None or found.completed or found.data is None:
                return {"ok": False, "error": "file_not_found"}
            if len(found.data) != found.length:
                return {"ok": False, "error": "file_upload_failed"}
            chosen.append(found)
        targets = [c for c in re.split(r"\s*,\s*", str(args.get("channels") or "")) if c]
        if args.get("channel_id"):
            targets.insert(0, str(args["channel_id"]))
        comment = args.get("initial_comment")
        blocks: Any = None
        if not comment and args.get("blocks"):
            try:
                blocks = json.loads(str(args["blocks"]))
            except ValueError:
                return {"ok": False, "error": "invalid_blocks_format"}
        channels = []
        for channel_id in targets:
            channel = self.channels.get(channel_id)
            if channel is None:
                return {"ok": False, "error": "channel_not_found"}
            if channel.archived:
                return {"ok": False, "error": "is_archived"}
            if not channel.member:
                return {
                    "ok": False,
                    "error": "channel_not_found" if channel.private else "not_in_channel",
                }
            channels.append(channel)
        if blocks is not None:
            problem = check_blocks(blocks)
            if problem is not None:
                return problem
        for item, found in zip(listed, chosen, strict=True):
            found.completed = True
            found.title = str(item.get("title") or found.name)
        for channel in channels:
            self._share(channel, chosen, comment, blocks)
        return {"ok": True, "files": [{"id": f.id, "title": f.title} for f in chosen]}

    def _share(self, channel: Any, files: list[FakeFile], comment: Any, blocks: Any) -> None:
        from tests.fakes.slack import APP_ID, BOT_ID, BOT_USER_ID

        n = next(self._ts)  # type: ignore[attr-defined]
        message: dict[str, Any] = {
            "type": "message",
            "ts": f"{1_700_000_000 + n}.{n:06d}",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": str(comment or ""),
            "upload": True,
            "display_as_bot": False,
            "files": [f.info() for f in files],
        }
        if blocks is not None:
            message["blocks"] = blocks
        channel.messages.append(message)
        for f in files:
            f.shared_in = (*f.shared_in, channel.id)


def check_blocks(blocks: Any) -> dict[str, Any] | None:
    """chat.postMessage's validation of `blocks`, as Slack answers it."""
    from tests.fakes.slack import _problem, check_message

    problem = check_message({"blocks": blocks, "text": "file"})
    return _problem(problem) if problem is not None else None


async def _file_bytes(request: web.Request) -> bytes:
    """The uploaded bytes: the raw body, or a multipart form's `file` field."""
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        field = form.get("file") or form.get("filename")
        if isinstance(field, web.FileField):
            return field.file.read()
        return str(field or "").encode()
    return await request.read()
