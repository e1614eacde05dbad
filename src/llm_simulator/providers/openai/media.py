"""What the media endpoints (moderations, images, audio) share: model checks, admission, multipart forms."""

from __future__ import annotations

from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import HttpRequest
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.admission import admit, needs_admission
from llm_simulator.providers.openai.common import known_model
from llm_simulator.providers.openai.ratelimits import limit_headers


def media_model(sim: Simulator, model_id: str, kind: str, endpoint: str) -> ModelSpec:
    """The spec of ``model_id``, which must be a ``kind`` model; OpenAI's 400 or 404 otherwise."""
    spec = known_model(sim, model_id)
    if spec.kind != kind:
        raise invalid(
            f"Invalid value for 'model' = {model_id}: this model is not supported in the {endpoint} endpoint.",
            param="model",
            code="invalid_value",
        )
    return spec


async def pass_through(sim: Simulator, request: HttpRequest, model_id: str, spec: ModelSpec, tokens: int) -> None:
    """Rate limits, chaos and the breaker, then one forward pass of latency (as an embedding)."""
    admission = None
    if needs_admission(sim, request):
        admission = await admit(sim, request, "openai", model_id, spec, tokens, 0, limit_headers)
    await sim.complete_embedding(spec, tokens, sim.request_seed(None), admission, request.exchange.record)


def bounded_text(value: str, param: str, limit: int) -> str:
    """``value`` if it is not empty and at most ``limit`` characters; OpenAI's 400 naming ``param`` otherwise."""
    if not value:
        raise invalid(f"Invalid '{param}': empty string.", param=param, code="invalid_value")
    if len(value) > limit:
        raise invalid(
            f"Invalid '{param}': string too long. Expected a string with maximum length {limit}, "
            f"but got a string with length {len(value)} instead.",
            param=param,
            code="string_above_max_length",
        )
    return value


# A multipart form: field name → [(file name, or None for a plain field; the value's bytes)].
Form = dict[str, list[tuple[str | None, bytes]]]


def parse_form(request: HttpRequest) -> Form:
    """The multipart/form-data fields of ``request``; a 400 when the body is not such a form."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        raise invalid(
            "Expected a multipart/form-data body (with a boundary) holding the uploaded 'file' or 'image'.",
            code="invalid_content_type",
        )
    message = BytesParser(EmailMessage, policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + request.body
    )
    if not message.is_multipart():
        raise invalid("Could not parse the multipart/form-data body.", code="invalid_multipart")
    fields: Form = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        fields.setdefault(name, []).append((part.get_filename(), payload if isinstance(payload, bytes) else b""))
    return fields


def form_text(fields: Form, name: str) -> str | None:
    """The first value of a plain field, as text (None when absent)."""
    values = fields.get(name)
    return values[0][1].decode("utf-8", "replace") if values else None


def form_files(fields: Form, *names: str) -> list[bytes]:
    """The uploaded files (parts with a file name) under any of ``names``, in order."""
    return [value for name in names for filename, value in fields.get(name, []) if filename is not None]
