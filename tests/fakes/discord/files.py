"""Messages with files for the fake Discord: multipart/form-data as Discord reads it.

A create-message (or webhook) request with files is `multipart/form-data`: the JSON body
in a `payload_json` field and each file in a `files[n]` field with a filename (Discord
also reads `file` and `file[n]`). Checked like Discord:

- `payload_json` missing or not a JSON object: 400 `50109` "The request body contains
  invalid JSON.";
- a file above 10 MiB (the upload limit of a server without boosts): 413 `40005`
  "Request entity too large"; more than 10 files: 400 `50035` (`files`:
  BASE_TYPE_MAX_LENGTH); a file part without a filename: 400 `50035`;
- every `attachments[i].id` of the body must name an uploaded `files[id]`: 400 `50035`
  otherwise (`attachments.i.id`: "Unknown attachment");
- an embed image `attachment://name` shows the attached file of that name; one naming
  no attached file is kept as sent (Discord shows no image), so tests can tell.

A message made this way lists its `attachments` (id, filename, size, url, content_type).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from dataclasses import dataclass
from typing import Any

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 10
_FILE_FIELD = re.compile(r"^files?\[(\d+)\]$|^file$")


@dataclass(frozen=True)
class Upload:
    index: int
    filename: str
    content_type: str
    data: bytes


class FormError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message"))
        self.status = status
        self.body = body


def _form_error(path: list[str], code: str, message: str) -> FormError:
    tree: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        tree = {key: tree}
    return FormError(400, {"message": "Invalid Form Body", "code": 50035, "errors": tree})


def parse_multipart(raw: bytes, content_type: str) -> tuple[dict[str, Any], list[Upload]]:
    """The JSON body and the files of a multipart request; FormError as Discord answers."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    body: Any = None
    uploads: list[Upload] = []
    if not message.is_multipart():
        raise FormError(400, {"message": "The request body contains invalid JSON.", "code": 50109})
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if name == "payload_json":
            try:
                body = json.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                body = None
            continue
        found = _FILE_FIELD.match(str(name or ""))
        if found is None:
            continue
        filename = part.get_filename()
        if not filename:
            raise _form_error(["files"], "BASE_TYPE_REQUIRED", "A filename is required")
        if len(data) > MAX_FILE_BYTES:
            raise FormError(413, {"message": "Request entity too large", "code": 40005})
        index = int(found.group(1) or 0)
        uploads.append(Upload(index, filename, part.get_content_type(), data))
    if not isinstance(body, dict):
        raise FormError(400, {"message": "The request body contains invalid JSON.", "code": 50109})
    if len(uploads) > MAX_FILES:
        raise _form_error(
            ["files"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length."
        )
    indexes = {u.index for u in uploads}
    for position, attachment in enumerate(body.get("attachments") or []):
        ident = attachment.get("id") if isinstance(attachment, dict) else None
        try:
            known = int(str(ident)) in indexes
        except ValueError:
            known = False
        if not known:
            raise _form_error(
                ["attachments", str(position), "id"], "ATTACHMENT_NOT_FOUND", "Unknown attachment"
            )
    return body, uploads


def attachments_json(uploads: list[Upload], body: dict[str, Any], ids: Any) -> list[dict[str, Any]]:
    """The `attachments` of the message made from `uploads` (named as `body` says)."""
    named = {int(str(a["id"])): a for a in body.get("attachments") or [] if isinstance(a, dict)}
    out = []
    for upload in uploads:
        meta = named.get(upload.index, {})
        filename = str(meta.get("filename") or upload.filename)
        attachment_id = next(ids)
        out.append(
            {
                "id": str(attachment_id),
                "filename": filename,
                "size": len(upload.data),
                "url": f"https://cdn.discordapp.com/attachments/0/{attachment_id}/{filename}",
                "proxy_url": f"https://media.discordapp.net/attachments/0/{attachment_id}/{filename}",
                "content_type": upload.content_type,
                "description": meta.get("description"),
            }
        )
    return out
