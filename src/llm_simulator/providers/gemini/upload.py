"""Google's resumable upload protocol on ``POST /upload/{version}/files`` (what ``client.files.upload`` speaks).

1. **start**: ``X-Goog-Upload-Protocol: resumable``, ``X-Goog-Upload-Command: start``, the
   size and type in ``X-Goog-Upload-Header-Content-Length`` / ``-Content-Type`` and the
   ``File`` (``mimeType``, ``displayName``, ``name``) in a JSON body. The answer is empty,
   with ``X-Goog-Upload-Status: active`` and the session's ``X-Goog-Upload-URL`` (this path
   with ``?upload_id=…``).
2. **upload** to that URL: ``X-Goog-Upload-Command: upload`` (``upload, finalize`` on the
   last chunk), ``X-Goog-Upload-Offset`` (bytes sent before this chunk) and the bytes. A
   chunk gets ``active`` and ``X-Goog-Upload-Size-Received``; the finalizing one gets
   ``final`` and ``{"file": {…}}``. ``query`` reports the size received, ``cancel`` ends the
   session.

The upload URL carries the caller's key (``&key=``) when the start request presented one:
the SDK sends the chunks with no key of its own, and a server with ``auth.require_auth``
would refuse them. Every answer to an upload URL carries ``X-Goog-Upload-Status``, errors included (``final``):
without it the SDK retries the chunk three times, waiting 7 s, before it reads the error.
Open sessions hold their bytes in memory: they count against ``batches.max_stored_bytes``
with the stored files, and at most ``batches.max_files`` stay open (the oldest is dropped).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import Headers, HttpRequest, JsonResponse, Response
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.gemini import fields
from llm_simulator.providers.gemini.common import api_key, api_version
from llm_simulator.providers.gemini.errors import render_error
from llm_simulator.providers.gemini.files import GeminiFile, GeminiFiles, base_url, json_response
from llm_simulator.providers.validation import parse_object

# A media type (``type/subtype``) or the bare format names the API also takes (``jsonl``).
_MIME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126})?$")
CHUNK_GRANULARITY = 8 * 1024 * 1024
MAX_DISPLAY_NAME = 512
UPLOAD_FIELDS = ("name", "displayName", "mimeType", "sizeBytes")


@dataclass(slots=True)
class UploadSession:
    """An upload begun and not yet finalized."""

    file_id: str
    display_name: str
    mime_type: str
    declared: int | None
    base: str
    version: str
    chunks: list[bytes] = field(default_factory=list)
    received: int = 0

    @property
    def held(self) -> int:
        """Bytes this session may come to hold (its declared size, else what it has)."""
        return self.declared if self.declared is not None else self.received


class Uploads:
    """The open upload sessions of one worker, finalized into ``files``."""

    def __init__(self, files: GeminiFiles) -> None:
        self.files = files
        self.sessions: OrderedDict[str, UploadSession] = OrderedDict()

    def pending(self) -> int:
        """Bytes promised to open sessions."""
        return sum(s.held for s in self.sessions.values())

    def start(self, request: HttpRequest) -> tuple[str, UploadSession]:
        """Validate a start request and open its session: (upload id, session)."""
        protocol = request.headers.get("x-goog-upload-protocol", "")
        if protocol.lower() != "resumable":
            raise invalid(
                f"Unsupported upload protocol '{protocol}': the simulator speaks the resumable protocol "
                "(X-Goog-Upload-Protocol: resumable), as the SDKs do.",
                param="X-Goog-Upload-Protocol",
            )
        command = request.headers.get("x-goog-upload-command", "")
        if command.strip().lower() != "start":
            raise invalid(
                f"X-Goog-Upload-Command must be 'start' to begin an upload, not '{command}'.",
                param="X-Goog-Upload-Command",
            )
        body = parse_object(request.body) if request.body.strip() else {}
        meta = fields.get_object(body, "file", "file") or {}
        fields.check_known(meta, UPLOAD_FIELDS, "file")
        mime = fields.get_str(meta, "mimeType", "file.mime_type") or request.headers.get(
            "x-goog-upload-header-content-type"
        )
        if not mime:
            raise invalid("file.mime_type is required: the MIME type of the file could not be determined.", "mimeType")
        if not _MIME.match(mime):
            raise invalid(f"Invalid MIME type: '{mime}'. Expected a media type such as 'text/plain'.", "mimeType")
        display = fields.get_str(meta, "displayName", "file.display_name") or ""
        if len(display) > MAX_DISPLAY_NAME:
            raise invalid(f"file.display_name is longer than {MAX_DISPLAY_NAME} characters.", "file.display_name")
        declared = _declared_size(request.headers.get("x-goog-upload-header-content-length"), meta)
        file_id = self.files.new_id(fields.get_str(meta, "name", "file.name"))
        if any(s.file_id == file_id for s in self.sessions.values()):
            raise invalid(f"A file named files/{file_id} is already being uploaded.", param="file.name")
        self.files.check_room(declared or 0, self.pending())
        if len(self.sessions) >= self.files.limits.max_files:
            self.sessions.popitem(last=False)  # an abandoned upload must not block new ones
        version = api_version(request.path.removeprefix("/upload"))
        session = UploadSession(file_id, display, mime, declared, base_url(request), version)
        upload_id = IDS.token(40)
        self.sessions[upload_id] = session
        return upload_id, session

    def require(self, upload_id: str) -> UploadSession:
        """The open session, or the API's 404."""
        session = self.sessions.get(upload_id)
        if session is None:
            raise SimulatorError(
                ErrorKind.NOT_FOUND,
                f"Upload session '{upload_id}' not found: it was never started, was finalized or cancelled, "
                "or was dropped to make room.",
                param="upload_id",
            )
        return session

    def chunk(self, upload_id: str, request: HttpRequest) -> tuple[UploadSession, GeminiFile | None]:
        """Apply an upload command; the session and, once finalized, the stored file."""
        session = self.require(upload_id)
        words = {w.strip().lower() for w in request.headers.get("x-goog-upload-command", "").split(",")}
        if words == {"query"}:
            return session, None
        if words == {"cancel"}:
            del self.sessions[upload_id]
            return session, None
        if not words or not words <= {"upload", "finalize"}:
            raise invalid(
                "X-Goog-Upload-Command must be 'upload', 'upload, finalize', 'finalize', 'query' or 'cancel'.",
                param="X-Goog-Upload-Command",
            )
        if "upload" in words:
            self._append(upload_id, session, request)
        if "finalize" not in words:
            return session, None
        del self.sessions[upload_id]
        if session.declared is not None and session.received != session.declared:
            raise invalid(
                f"The upload ended after {session.received} bytes, but {session.declared} were announced "
                "(X-Goog-Upload-Header-Content-Length).",
                param="X-Goog-Upload-Offset",
            )
        data = b"".join(session.chunks)
        stored = GeminiFile(
            session.file_id,
            session.display_name,
            session.mime_type,
            data,
            self.files.clock.wall(),
            generated=False,
            base=session.base,
            version=session.version,
        )
        return session, self.files.add(stored)

    def _append(self, upload_id: str, session: UploadSession, request: HttpRequest) -> None:
        raw = request.headers.get("x-goog-upload-offset", "")
        try:
            offset = int(raw)
        except ValueError:
            message = f"X-Goog-Upload-Offset must be a whole number, not '{raw}'."
            raise invalid(message, "X-Goog-Upload-Offset") from None
        if offset != session.received:
            raise invalid(
                f"X-Goog-Upload-Offset is {offset}, but {session.received} bytes were received so far.",
                param="X-Goog-Upload-Offset",
            )
        size = session.received + len(request.body)
        limit = session.declared if session.declared is not None else self.files.limits.max_file_bytes
        if size > limit:
            del self.sessions[upload_id]  # a refused upload starts again from the beginning
            raise invalid(f"The upload passed its size: {size} bytes received, at most {limit} allowed.", "file")
        session.chunks.append(request.body)
        session.received = size


def _declared_size(header: str | None, meta: dict[str, Any]) -> int | None:
    """The size announced by ``X-Goog-Upload-Header-Content-Length`` (or ``file.sizeBytes``)."""
    raw = header if header is not None else fields.get(meta, "sizeBytes")
    if raw is None:
        return None
    try:
        size = int(raw)
    except (TypeError, ValueError):
        raise invalid(f"Invalid upload size '{raw}': expected a whole number of bytes.", "sizeBytes") from None
    if size < 0:
        raise invalid(f"Invalid upload size {size}: it cannot be negative.", "sizeBytes")
    return size


def _status_headers(status: str, session: UploadSession | None = None) -> Headers:
    headers: Headers = [(b"x-goog-upload-status", status.encode())]
    if session is not None:
        headers.append((b"x-goog-upload-size-received", str(session.received).encode()))
    return headers


async def upload(uploads: Uploads, request: HttpRequest) -> Response:
    """Serve ``POST /upload/{version}/files``: start a session, or a command on ``?upload_id=``."""
    upload_id = request.query.get("upload_id")
    if upload_id is None:
        new_id, session = uploads.start(request)
        url = f"{session.base}/upload/{session.version}/files?upload_id={new_id}&upload_protocol=resumable"
        key = api_key(request.headers, request.query)
        if key is not None:
            # The SDK sends the chunks without its key: the URL carries it, so a server that
            # requires keys (auth.require_auth) lets the session's own client finish it.
            url += "&key=" + quote(key, safe="")
        headers = [
            *_status_headers("active"),
            (b"x-goog-upload-url", url.encode("latin-1")),
            (b"x-goog-upload-control-url", url.encode("latin-1")),
            (b"x-goog-upload-chunk-granularity", str(CHUNK_GRANULARITY).encode()),
        ]
        return JsonResponse(200, b"", headers)
    try:
        session, stored = uploads.chunk(upload_id, request)
    except SimulatorError as error:
        answer = render_error(error, request.request_id)
        answer.headers.extend(_status_headers("final"))
        return answer
    if stored is not None:
        answer = json_response({"file": stored.describe()})
        answer.headers.extend(_status_headers("final", session))
        return answer
    cancelled = upload_id not in uploads.sessions
    return JsonResponse(200, b"", _status_headers("cancelled" if cancelled else "active", session))
