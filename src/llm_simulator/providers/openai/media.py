"""What the media endpoints (moderations, images, audio) share: model checks, admission, multipart forms."""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import HttpRequest
from llm_simulator.core.types import Endpoint, GenerationRequest, Message
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.admission import admit, needs_admission
from llm_simulator.providers.openai.common import known_model
from llm_simulator.providers.openai.ratelimits import limit_headers
from llm_simulator.providers.scripting import apply_script


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


# The fixture endpoint of each media route (its ``Route.endpoint``); another route's request
# is matched as an image request (the kind with no text of its own to match on).
_ENDPOINTS = {
    kind.value: kind
    for kind in (Endpoint.MODERATION, Endpoint.IMAGE, Endpoint.SPEECH, Endpoint.TRANSCRIPTION, Endpoint.TRANSLATION)
}


async def pass_through(
    sim: Simulator, request: HttpRequest, model_id: str, spec: ModelSpec, tokens: int, texts: Sequence[str] = ()
) -> None:
    """Admission, then fixtures and strict mode, then one forward pass of latency (as an embedding).

    Admission is the rate limits, the breaker and chaos, a test scope's chaos and one-shot
    faults first. Fixtures (the scope's, then the global ones) match the request by its
    ``endpoint`` (``moderation``, ``image``, ``speech``, ``transcription``, ``translation``)
    and ``texts`` as its user turns (the moderation inputs, the image prompt, the speech
    input): a fixture's error is raised after its delay, a reply's delay waited out and its
    content ignored (the answer is always the endpoint's own). In strict mode a request no
    fixture matches is the 400 ``strict_no_fixture``, as for a generation.
    """
    record = request.exchange.record
    test_id = record.test_id if record is not None else None
    scope = await sim.scopes.open(test_id) if test_id is not None else None
    admission = None
    if needs_admission(sim, request):
        admission = await admit(sim, request, "openai", model_id, spec, tokens, 0, limit_headers, scope)
    if sim.script.active or scope is not None:
        gen = GenerationRequest(
            model=model_id,
            endpoint=_ENDPOINTS.get(request.endpoint, Endpoint.IMAGE),
            messages=tuple(Message("user", text) for text in texts),
            prompt_tokens=tokens,
        )
        gen = await apply_script(sim, "openai", request, gen, scope)
        if gen.start_delay_s > 0:
            await sim.pause(gen.start_delay_s, scripted=True)
    await sim.complete_embedding(spec, tokens, sim.request_seed(None), admission, record)


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
