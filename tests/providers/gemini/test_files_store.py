"""The Gemini file store in process: 48-hour expiry on the injected clock, and the storage bounds."""

from __future__ import annotations

import pytest

from llm_simulator.config.schema import BatchesConfig
from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.infra.clock import FakeClock
from llm_simulator.providers.gemini.files import LIFETIME_S, GeminiFile, GeminiFiles
from llm_simulator.providers.storage import Bound, BoundedStore, StorageFull


def _file(files: GeminiFiles, file_id: str, data: bytes = b"abc") -> GeminiFile:
    return GeminiFile(
        file_id, "", "text/plain", data, files.clock.wall(), generated=False, base="http://h", version="v1"
    )


def test_files_expire_48_hours_after_creation() -> None:
    clock = FakeClock()
    files = GeminiFiles(clock, BatchesConfig())
    files.add(_file(files, "old"))
    clock.advance_to(clock.now() + LIFETIME_S / 2)
    files.add(_file(files, "young"))
    assert [f.id for f in files.listed()] == ["young", "old"]
    clock.advance_to(clock.now() + LIFETIME_S / 2)  # "old" is 48 h old now
    assert [f.id for f in files.listed()] == ["young"]
    with pytest.raises(SimulatorError) as caught:
        files.require("files/old")
    assert caught.value.kind is ErrorKind.PERMISSION
    assert files.store.stored_bytes == 3  # the expired file's bytes are free again


def test_bounds_name_the_limit_and_nothing_is_evicted() -> None:
    store: BoundedStore[bytes] = BoundedStore(BatchesConfig(max_files=2, max_file_bytes=4, max_stored_bytes=6), len)
    store.add("a", b"1234")
    with pytest.raises(StorageFull) as too_large:
        store.add("b", b"12345")
    assert too_large.value.bound is Bound.FILE_BYTES
    with pytest.raises(StorageFull) as no_room:
        store.add("b", b"123")
    assert no_room.value.bound is Bound.STORED_BYTES and "batches.max_stored_bytes" in no_room.value.message
    store.add("b", b"12")
    with pytest.raises(StorageFull) as too_many:
        store.add("c", b"")
    assert too_many.value.bound is Bound.FILES
    assert [store.get("a"), store.get("b")] == [b"1234", b"12"] and len(store) == 2
    assert store.pop("a") == b"1234" and store.pop("a") is None and store.stored_bytes == 2


def test_generated_names_and_chosen_names() -> None:
    files = GeminiFiles(FakeClock(), BatchesConfig())
    assert len(files.new_id(None)) == 12
    assert files.new_id("files/my-data-1") == "my-data-1"
    for bad in ("-lead", "trail-", "UPPER", "x" * 41, ""):
        with pytest.raises(SimulatorError):
            files.new_id(bad)
