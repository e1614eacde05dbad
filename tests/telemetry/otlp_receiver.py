"""A tiny OTLP/HTTP collector for tests: decodes POST /v1/traces and /v1/logs and keeps what came."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span


def value_of(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as a Python value."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value_of(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return getattr(value, kind)


def attributes(kvs: Any) -> dict[str, Any]:
    """OTLP key-value pairs as a dict."""
    pairs: list[KeyValue] = list(kvs)
    return {kv.key: value_of(kv.value) for kv in pairs}


@dataclass
class Received:
    """Everything the receiver decoded, flattened: spans and log records with their resource."""

    spans: list[tuple[dict[str, Any], Span]] = field(default_factory=list)
    logs: list[tuple[dict[str, Any], LogRecord]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


class OtlpReceiver:
    """A threaded HTTP server on 127.0.0.1 answering OTLP/HTTP protobuf exports with 200."""

    def __init__(self) -> None:
        self.got = Received()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                reply = receiver.take(self.path, dict(self.headers.items()), body)
                if reply is None:
                    self.send_response(404)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """The collector's base URL (what ``otlp_endpoint`` takes)."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def take(self, path: str, headers: dict[str, str], body: bytes) -> bytes | None:
        """Decode one export; the serialized response, or None for an unknown path."""
        with self.lock:
            self.got.paths.append(path)
            self.got.headers.append({k.lower(): v for k, v in headers.items()})
            if path == "/v1/traces":
                traces = ExportTraceServiceRequest.FromString(body)
                for rs in traces.resource_spans:
                    resource = attributes(rs.resource.attributes)
                    for ss in rs.scope_spans:
                        self.got.spans.extend((resource, span) for span in ss.spans)
                return bytes(ExportTraceServiceResponse().SerializeToString())
            if path == "/v1/logs":
                logs = ExportLogsServiceRequest.FromString(body)
                for rl in logs.resource_logs:
                    resource = attributes(rl.resource.attributes)
                    for sl in rl.scope_logs:
                        self.got.logs.extend((resource, record) for record in sl.log_records)
                return bytes(ExportLogsServiceResponse().SerializeToString())
        return None

    def spans(self) -> list[Span]:
        """The spans received so far."""
        with self.lock:
            return [span for _, span in self.got.spans]

    def logs(self) -> list[LogRecord]:
        """The log records received so far."""
        with self.lock:
            return [record for _, record in self.got.logs]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Poll ``condition`` until it holds or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return condition()


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """Run a receiver for the duration of the block."""
    receiver = OtlpReceiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        receiver.thread.join(timeout=5)
