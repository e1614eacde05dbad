"""OpenAI's ``/v1/files``: upload (multipart), list, retrieve, content and delete.

Files live in one worker's memory, bounded by ``batches.max_files``,
``batches.max_file_bytes`` and ``batches.max_stored_bytes``: an upload past a bound is
refused with OpenAI's 400 (nothing is evicted behind a client's back). A file with an
``expires_after`` policy (and, as on the API, every ``batch`` upload: 30 days) is forgotten
once its ``expires_at`` passes. Batch jobs store their output and error files here too
(expiring per the batch's ``output_expires_after``).
"""

from __future__ import annotations

import email.parser
import email.policy
import math
from collections import OrderedDict
from dataclasses import dataclass
from email.message import Message

import orjson

from llm_simulator.config.schema import BatchesConfig
from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import JSON_CONTENT_TYPE, HttpRequest, JsonResponse, Response
from llm_simulator.infra.clock import Clock
from llm_simulator.providers.openai.common import new_id
from llm_simulator.providers.openai.listing import list_limit, list_order, list_page

# The purposes OpenAI accepts on upload; batch jobs write ``batch_output`` files themselves.
UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
MAX_LIST_LIMIT = 10_000
# An ``expires_after`` policy's bounds (1 hour to 30 days), and the API's default for files
# uploaded with purpose ``batch`` (every other file stays until deleted).
MIN_EXPIRY_S = 3600
MAX_EXPIRY_S = 30 * 24 * 3600
BATCH_INPUT_EXPIRY_S = MAX_EXPIRY_S


def expiry_seconds(policy: object, param: str) -> int | None:
    """The seconds of an ``expires_after`` policy (``{anchor: "created_at", seconds}``); None when absent.

    OpenAI's 400 when the anchor is not ``created_at`` or the seconds are not an integer
    between 1 hour and 30 days. Multipart fields arrive as strings: ``seconds`` may be one.
    """
    if policy is None:
        return None
    anchor = policy.get("anchor") if isinstance(policy, dict) else None
    if anchor != "created_at":
        raise invalid(
            f"Invalid '{param}.anchor': {anchor!r}. Supported anchors: 'created_at'.",
            param=f"{param}.anchor",
            code="invalid_value",
        )
    seconds = policy.get("seconds") if isinstance(policy, dict) else None
    if isinstance(seconds, str) and seconds.strip().isdigit():
        seconds = int(seconds)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not MIN_EXPIRY_S <= seconds <= MAX_EXPIRY_S:
        raise invalid(
            f"Invalid '{param}.seconds': {seconds!r}. Expected an integer between {MIN_EXPIRY_S} (1 hour) "
            f"and {MAX_EXPIRY_S} (30 days).",
            param=f"{param}.seconds",
            code="invalid_value",
        )
    return seconds


@dataclass(slots=True)
class StoredFile:
    """One file: its bytes and the fields of its file object."""

    id: str
    filename: str
    purpose: str
    created_at: int
    data: bytes
    expires_at: int | None = None

    def describe(self) -> dict[str, object]:
        """The file object."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
        }


class FileStore:
    """The files one worker holds, in upload order, within the configured bounds."""

    def __init__(self, clock: Clock, limits: BatchesConfig) -> None:
        self._clock = clock
        self._limits = limits
        self._files: OrderedDict[str, StoredFile] = OrderedDict()
        self._bytes = 0
        # The earliest ``expires_at`` of a stored file (a scan for expired files only after it).
        self._next_expiry = math.inf

    @property
    def stored_bytes(self) -> int:
        """Bytes held by every stored file."""
        self._purge()
        return self._bytes

    def __len__(self) -> int:
        self._purge()
        return len(self._files)

    def _purge(self) -> None:
        """Forget the files whose ``expires_at`` has passed (checked lazily, on every access)."""
        now = self._clock.wall()
        if now < self._next_expiry:
            return
        expired = [f.id for f in self._files.values() if f.expires_at is not None and f.expires_at <= now]
        for file_id in expired:
            self.delete(file_id)
        left = [f.expires_at for f in self._files.values() if f.expires_at is not None]
        self._next_expiry = min(left, default=math.inf)

    def add(self, filename: str, purpose: str, data: bytes, expires_after_s: int | None = None) -> StoredFile:
        """Store a file (gone ``expires_after_s`` seconds after its creation, if given); 400 past a bound."""
        self._purge()
        limits = self._limits
        if len(data) > limits.max_file_bytes:
            raise invalid(
                f"File is too large: {len(data)} bytes. The simulator's limit (batches.max_file_bytes) "
                f"is {limits.max_file_bytes} bytes.",
                param="file",
                code="file_too_large",
            )
        if len(self._files) >= limits.max_files:
            raise invalid(
                f"Too many files: the simulator keeps at most {limits.max_files} (batches.max_files). "
                "Delete some files and try again.",
                param="file",
                code="files_limit_exceeded",
            )
        if self._bytes + len(data) > limits.max_stored_bytes:
            raise invalid(
                f"Storage limit reached: {self._bytes} bytes stored, {len(data)} more would pass the "
                f"simulator's limit of {limits.max_stored_bytes} bytes (batches.max_stored_bytes). "
                "Delete some files and try again.",
                param="file",
                code="storage_limit_exceeded",
            )
        created_at = int(self._clock.wall())
        expires_at = None if expires_after_s is None else created_at + expires_after_s
        stored = StoredFile(new_id("file-", 22), filename, purpose, created_at, data, expires_at)
        if expires_at is not None:
            self._next_expiry = min(self._next_expiry, expires_at)
        self._files[stored.id] = stored
        self._bytes += len(data)
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        """The file, or None."""
        self._purge()
        return self._files.get(file_id)

    def require(self, file_id: str, param: str = "file_id") -> StoredFile:
        """The file; OpenAI's 404 when there is none (or it has expired)."""
        stored = self.get(file_id)
        if stored is None:
            raise SimulatorError(ErrorKind.NOT_FOUND, f"No such File object: {file_id}", param=param)
        return stored

    def delete(self, file_id: str) -> bool:
        """Forget a file; False when there was none."""
        stored = self._files.pop(file_id, None)
        if stored is None:
            return False
        self._bytes -= len(stored.data)
        return True

    def listed(self) -> list[StoredFile]:
        """Every file, oldest first."""
        self._purge()
        return list(self._files.values())


def _json(body: object, request: HttpRequest) -> JsonResponse:
    return JsonResponse(200, orjson.dumps(body), [JSON_CONTENT_TYPE, (b"x-request-id", request.request_id.encode())])


def parse_multipart(request: HttpRequest) -> dict[str, tuple[str | None, bytes]]:
    """The form's fields: name → (filename or None, bytes); 400 when the body is not multipart."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        raise invalid(
            "Invalid request: the body must be multipart/form-data with 'file' and 'purpose' fields.",
            param="file",
        )
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        raise invalid("Invalid request: the multipart body could not be read.", param="file")
    parts = message.get_payload()
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, Message):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        fields[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


async def upload(store: FileStore, request: HttpRequest) -> Response:
    """Serve ``POST /v1/files``."""
    fields = parse_multipart(request)
    purpose_field = fields.get("purpose")
    if purpose_field is None:
        raise invalid("Missing required parameter: 'purpose'.", param="purpose", code="missing_required_parameter")
    purpose = purpose_field[1].decode("utf-8", "replace").strip()
    if purpose not in UPLOAD_PURPOSES:
        raise invalid(
            f"Invalid value for 'purpose': '{purpose}'. Expected one of "
            + ", ".join(f"'{p}'" for p in UPLOAD_PURPOSES)
            + ".",
            param="purpose",
            code="invalid_value",
        )
    file_field = fields.get("file")
    if file_field is None or file_field[0] is None:
        raise invalid("Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
    filename, data = file_field
    assert filename is not None
    if purpose == "batch" and not filename.lower().endswith(".jsonl"):
        raise invalid("Invalid file format for Batch API. Must be .jsonl", param="file", code="invalid_file_format")
    policy = {
        key: fields[f"expires_after[{key}]"][1].decode("utf-8", "replace")
        for key in ("anchor", "seconds")
        if f"expires_after[{key}]" in fields
    }
    expires_after_s = expiry_seconds(policy or None, "expires_after")
    if expires_after_s is None and purpose == "batch":
        expires_after_s = BATCH_INPUT_EXPIRY_S
    stored = store.add(filename, purpose, data, expires_after_s)
    return _json(stored.describe(), request)


async def list_files(store: FileStore, request: HttpRequest) -> Response:
    """Serve ``GET /v1/files`` (``purpose``, ``limit``, ``order``, ``after``)."""
    limit = list_limit(request, MAX_LIST_LIMIT, MAX_LIST_LIMIT)
    files = store.listed()
    if list_order(request) == "desc":
        files.reverse()
    purpose = request.query.get("purpose")
    if purpose:
        files = [f for f in files if f.purpose == purpose]
    return _json(list_page(files, request, limit, lambda f: f.id, lambda f: f.describe()), request)


async def retrieve(store: FileStore, request: HttpRequest) -> Response:
    """Serve ``GET /v1/files/{file_id}``."""
    return _json(store.require(request.path_params["file_id"]).describe(), request)


async def content(store: FileStore, request: HttpRequest) -> Response:
    """Serve ``GET /v1/files/{file_id}/content``: the file's bytes."""
    stored = store.require(request.path_params["file_id"])
    headers = [(b"content-type", b"application/octet-stream"), (b"x-request-id", request.request_id.encode())]
    return JsonResponse(200, stored.data, headers)


async def delete(store: FileStore, request: HttpRequest) -> Response:
    """Serve ``DELETE /v1/files/{file_id}``."""
    file_id = request.path_params["file_id"]
    store.require(file_id)
    store.delete(file_id)
    return _json({"id": file_id, "object": "file", "deleted": True}, request)
