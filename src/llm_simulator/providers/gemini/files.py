"""Gemini's Files API: ``files/{id}`` resources, listed, fetched, deleted and (generated ones) downloaded.

Files are uploaded with the resumable protocol (``upload.py``) or written by batch jobs
(their ``responsesFile``). They live in one worker's memory within ``batches.max_files``,
``batches.max_file_bytes`` and ``batches.max_stored_bytes`` (``providers/storage.py``; the
Gemini store is separate from OpenAI's) and expire 48 hours after creation, as the API's
do (``expirationTime``; real hours, not scaled by ``batches.time_scale``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from llm_simulator.config.schema import BatchesConfig
from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import JSON_CONTENT_TYPE, HttpRequest, JsonResponse, Response
from llm_simulator.infra.clock import Clock
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.gemini.paging import page, timestamp
from llm_simulator.providers.storage import Bound, BoundedStore, StorageFull

FILES_PREFIX = "files/"
LIFETIME_S = 48 * 3600.0
# A file id the API accepts: lower-case letters, digits and dashes, at most 40, no dash at either end.
_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100


def base_url(request: HttpRequest) -> str:
    """The scheme and host the client reached (file ``uri``s and upload URLs point back at it).

    Behind a TLS-terminating proxy the scheme is the proxy's ``x-forwarded-proto``.
    """
    scheme = request.headers.get("x-forwarded-proto", "http").split(",", 1)[0].strip() or "http"
    return f"{scheme}://{request.headers.get('host', '127.0.0.1')}"


@dataclass(slots=True)
class GeminiFile:
    """One stored file and the fields of its ``File`` resource."""

    id: str
    display_name: str
    mime_type: str
    data: bytes
    created: float
    generated: bool
    base: str
    version: str
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        # The API's sha256Hash is the base64 of the hex digest (a bytes field holding the hex text).
        self.sha256 = base64.b64encode(hashlib.sha256(self.data).hexdigest().encode()).decode()

    @property
    def name(self) -> str:
        """``files/{id}``."""
        return FILES_PREFIX + self.id

    def describe(self) -> dict[str, Any]:
        """The ``File`` resource."""
        body: dict[str, Any] = {
            "name": self.name,
            "displayName": self.display_name,
            "mimeType": self.mime_type,
            "sizeBytes": str(len(self.data)),
            "createTime": timestamp(self.created),
            "updateTime": timestamp(self.created),
            "expirationTime": timestamp(self.created + LIFETIME_S),
            "sha256Hash": self.sha256,
            "uri": f"{self.base}/{self.version}/{self.name}",
            "state": "ACTIVE",
            "source": "GENERATED" if self.generated else "UPLOADED",
        }
        if self.generated:
            body["downloadUri"] = f"{self.base}/download/{self.version}/{self.name}:download?alt=media"
        return body


def _full(error: StorageFull) -> SimulatorError:
    """Google's answer to a file past a bound: too large is a bad argument, no room is a quota."""
    if error.bound is Bound.FILE_BYTES:
        return invalid(error.message, param="file")
    return SimulatorError(ErrorKind.QUOTA_EXHAUSTED, error.message, param="file", should_retry=False)


class GeminiFiles:
    """The files of one worker."""

    def __init__(self, clock: Clock, limits: BatchesConfig) -> None:
        self.clock = clock
        self.limits = limits
        self.store: BoundedStore[GeminiFile] = BoundedStore(limits, lambda f: len(f.data))

    def _purge(self) -> None:
        """Forget the files past their expiration time (oldest first, so stop at the first live one)."""
        cutoff = self.clock.wall() - LIFETIME_S
        for stored in self.store.items():
            if stored.created > cutoff:
                break
            self.store.pop(stored.id)

    def check_room(self, size: int, pending: int = 0) -> None:
        """Google's error unless a file of ``size`` bytes would fit (``pending``: bytes of open uploads)."""
        self._purge()
        try:
            self.store.check(size, pending)
        except StorageFull as exc:
            raise _full(exc) from None

    def new_id(self, wanted: str | None) -> str:
        """A fresh id: ``wanted`` (``files/`` optional) when valid and free, else a random one."""
        if wanted is None:
            return IDS.token(12).lower()
        file_id = wanted.removeprefix(FILES_PREFIX)
        if not _ID.match(file_id):
            raise invalid(
                f"Invalid file name: '{wanted}'. A name holds 1 to 40 lower-case letters, digits or dashes "
                "and neither starts nor ends with a dash.",
                param="file.name",
            )
        if self.store.get(file_id) is not None:
            raise invalid(f"A file named files/{file_id} already exists.", param="file.name")
        return file_id

    def add(self, stored: GeminiFile) -> GeminiFile:
        """Keep ``stored``; Google's error when a bound would be passed."""
        self._purge()
        try:
            return self.store.add(stored.id, stored)
        except StorageFull as exc:
            raise _full(exc) from None

    def require(self, name: str) -> GeminiFile:
        """The file (``files/`` optional), or the API's refusal (403: it does not say whether the file exists)."""
        self._purge()
        file_id = name.removeprefix(FILES_PREFIX)
        stored = self.store.get(file_id)
        if stored is None:
            raise SimulatorError(
                ErrorKind.PERMISSION,
                f"You do not have permission to access the File {file_id} or it may not exist.",
                param="name",
            )
        return stored

    def delete(self, name: str) -> None:
        """Forget a file (403 when there is none, as for a lookup)."""
        self.store.pop(self.require(name).id)

    def listed(self) -> list[GeminiFile]:
        """Every live file, newest first."""
        self._purge()
        return self.store.items()[::-1]


def json_response(body: object) -> JsonResponse:
    """A 200 JSON answer."""
    return JsonResponse(200, orjson.dumps(body), [JSON_CONTENT_TYPE])


def _split_action(target: str) -> tuple[str, str | None]:
    """``abc:download`` → (``abc``, ``download``); ``abc`` → (``abc``, None)."""
    file_id, sep, action = target.rpartition(":")
    return (file_id, action) if sep else (target, None)


async def get_file(files: GeminiFiles, request: HttpRequest) -> Response:
    """Serve ``GET /{version}/files/{id}`` and ``GET /{version}/files/{id}:download``."""
    file_id, action = _split_action(request.path_params["file_id"])
    if action is None:
        return json_response(files.require(file_id).describe())
    if action != "download":
        raise SimulatorError(
            ErrorKind.NOT_FOUND, f"Method not found: '{action}' is not a method of files. Supported: download"
        )
    return download(files, file_id)


async def download_file(files: GeminiFiles, request: HttpRequest) -> Response:
    """Serve ``GET /download/{version}/files/{id}:download`` (the ``downloadUri`` of a generated file)."""
    file_id, action = _split_action(request.path_params["file_id"])
    if action not in (None, "download"):
        raise SimulatorError(ErrorKind.NOT_FOUND, f"Method not found: '{action}' is not a method of files.")
    return download(files, file_id)


def download(files: GeminiFiles, file_id: str) -> Response:
    """A generated file's bytes; uploaded files cannot be downloaded, as on the API."""
    stored = files.require(file_id)
    if not stored.generated:
        raise invalid(
            f"Only generated files can be downloaded: {stored.name} was uploaded (its source is UPLOADED).",
            param="name",
        )
    return JsonResponse(200, stored.data, [(b"content-type", stored.mime_type.encode("latin-1", "replace"))])


async def list_files(files: GeminiFiles, request: HttpRequest) -> Response:
    """Serve ``GET /{version}/files`` (newest first; ``pageSize`` default 10, at most 100; ``pageToken``)."""
    shown, following = page(files.listed(), request.query, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, lambda f: f.id)
    body: dict[str, Any] = {"files": [f.describe() for f in shown]}
    if following is not None:
        body["nextPageToken"] = following
    return json_response(body)


async def delete_file(files: GeminiFiles, request: HttpRequest) -> Response:
    """Serve ``DELETE /{version}/files/{id}`` (an empty object, as the API answers)."""
    files.delete(request.path_params["file_id"])
    return json_response({})
