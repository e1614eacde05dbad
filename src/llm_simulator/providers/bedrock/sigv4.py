r"""AWS Signature Version 4 on Bedrock requests: the header's shape always, the signature on request.

The ``Authorization`` header botocore (and anthropic's Bedrock client) sends is::

    AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/bedrock/aws4_request,
        SignedHeaders=content-type;host;x-amz-date, Signature=<64 hex digits>

A header in that scheme is always checked for shape (AWS's ``IncompleteSignatureException``
when a part is missing or malformed). With ``bedrock.credentials`` configured, every request
must carry one, by a known access key, within the allowed clock skew, and its signature is
recomputed (``expected_signature``) and compared in constant time:

    canonical request = METHOD \n canonical URI \n canonical query \n canonical headers \n
                        signed header names \n hex(SHA-256(body))
    string to sign    = "AWS4-HMAC-SHA256" \n X-Amz-Date \n date/region/service/aws4_request \n
                        hex(SHA-256(canonical request))
    signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
    signature         = hex(HMAC(signing key, string to sign))

The server hands handlers the *decoded* path (its segments, the model id whole), and clients percent-encode the model id
differently (botocore encodes every reserved character, ``:`` too; anthropic's client keeps
``:``), so the canonical URI is rebuilt for each of those encodings and any may match.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from llm_simulator.config.bedrock import BedrockConfig
from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.identity import SIGV4_SCHEME

SERVICE = "bedrock"
TERMINATOR = "aws4_request"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DAY = re.compile(r"\d{8}")
_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


def auth_error(code: str, message: str) -> SimulatorError:
    """A 403 refusal carrying AWS's exception name as its code (rendered as ``x-amzn-ErrorType``)."""
    return SimulatorError(ErrorKind.AUTHENTICATION, message, code=code, status=403)


@dataclass(frozen=True, slots=True)
class SigV4Header:
    """The parts of a well-formed SigV4 ``Authorization`` header."""

    access_key: str
    day: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        """``date/region/service/aws4_request``."""
        return f"{self.day}/{self.region}/{self.service}/{TERMINATOR}"


def parse_authorization(value: str) -> SigV4Header:
    """The parts of ``value`` (the whole header), or ``IncompleteSignatureException`` naming what is wrong."""
    scheme, _, rest = value.partition(" ")
    if scheme != SIGV4_SCHEME:
        raise auth_error("IncompleteSignatureException", f"Unsupported authorization scheme '{scheme}'.")
    params: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, item = part.strip().partition("=")
        if sep:
            params[name] = item.strip()
    problems = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not params.get(name)
    ]
    if problems:
        problems.append(f"Authorization={value[:120]}")
        raise auth_error("IncompleteSignatureException", " ".join(problems))
    credential = params["Credential"].split("/")
    if len(credential) != 5 or not credential[0] or not _DAY.fullmatch(credential[1]) or credential[4] != TERMINATOR:
        raise auth_error(
            "IncompleteSignatureException",
            f"Credential should be scoped to a valid region and service: 'AKID/yyyymmdd/region/{SERVICE}/"
            f"{TERMINATOR}', got '{params['Credential']}'.",
        )
    if credential[3] != SERVICE:
        raise auth_error(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{SERVICE}'. ",
        )
    signed = tuple(params["SignedHeaders"].split(";"))
    if "host" not in signed:
        raise auth_error("IncompleteSignatureException", "'Host' or ':authority' must be a 'SignedHeader'.")
    if not _HEX64.fullmatch(params["Signature"]):
        raise auth_error("IncompleteSignatureException", "The signature must be 64 lower-case hex digits.")
    return SigV4Header(credential[0], credential[1], credential[2], credential[3], signed, params["Signature"])


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """The derived key: HMAC chain over the day, region, service and ``aws4_request``."""
    return _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), day), region), service), TERMINATOR)


def canonical_uris(segments: Sequence[str]) -> tuple[str, ...]:
    """The canonical URIs a path of decoded ``segments`` may have been signed with, one per client encoding.

    Each segment is re-encoded as the client sent it (every reserved character, ``/`` and
    ``:`` too, as botocore does; or with ``:`` kept, as anthropic's client does), then the
    whole path is encoded once more, as SigV4 asks of every service but S3.
    """
    raw = ["/" + "/".join(quote(s, safe=keep) for s in segments) for keep in ("", ":;")]
    uris = [quote(candidate, safe="/~") for candidate in raw]
    return tuple(dict.fromkeys(uris))


def canonical_query(query: Mapping[str, str]) -> str:
    """Sorted ``key=value`` pairs, each side encoded with SigV4's unreserved set."""
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in query.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


def expected_signature(
    header: SigV4Header,
    secret: str,
    method: str,
    canonical_uri: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
) -> str:
    """The signature a request signed with ``secret`` carries (hex)."""
    canonical_headers = "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in header.signed_headers)
    payload = headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    canonical = "\n".join(
        (method, canonical_uri, canonical_query(query), canonical_headers, ";".join(header.signed_headers), payload)
    )
    to_sign = "\n".join(
        (SIGV4_SCHEME, headers.get("x-amz-date", ""), header.scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    key = signing_key(secret, header.day, header.region, header.service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _check_date(headers: Mapping[str, str], header: SigV4Header, now: float, max_skew_s: float) -> None:
    stamp = headers.get("x-amz-date", "")
    try:
        signed_at = dt.datetime.strptime(stamp, DATE_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        raise auth_error(
            "IncompleteSignatureException",
            f"X-Amz-Date must be signed and in the form yyyyMMddTHHmmssZ, got {stamp!r}.",
        ) from None
    if not stamp.startswith(header.day):
        raise auth_error(
            "InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from X-Amz-Date."
        )
    server = dt.datetime.fromtimestamp(now, dt.UTC)
    earliest = server - dt.timedelta(seconds=max_skew_s)
    if abs((server - signed_at).total_seconds()) > max_skew_s:
        raise auth_error(
            "InvalidSignatureException",
            f"Signature expired: {stamp} is now earlier than {earliest.strftime(DATE_FORMAT)} "
            f"({server.strftime(DATE_FORMAT)} - {max_skew_s:g} s.)",
        )


def check_request(
    config: BedrockConfig,
    method: str,
    segments: Sequence[str],
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    now: float,
) -> None:
    """Accept the request or raise AWS's refusal (see the module docstring for when each applies)."""
    value = headers.get("authorization")
    if value is None or not value.startswith(SIGV4_SCHEME):
        if config.credentials:
            raise auth_error("MissingAuthenticationTokenException", "Missing Authentication Token")
        return  # unsigned (or a Bedrock API key as a bearer token): a stand-in takes it
    header = parse_authorization(value)
    if not config.credentials:
        return
    secret = config.credentials.get(header.access_key)
    if secret is None:
        raise auth_error("UnrecognizedClientException", "The security token included in the request is invalid.")
    _check_date(headers, header, now, config.max_clock_skew_s)
    for uri in canonical_uris(segments):
        expected = expected_signature(header, secret.get_secret_value(), method, uri, query, headers, body)
        if hmac.compare_digest(expected, header.signature):
            return
    raise auth_error("InvalidSignatureException", _SIGNATURE_MISMATCH)
