"""
SecMaster's AK/SK request signing (SDK-HMAC-SHA256), checked as the official SDK signs.

``Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<h1;h2>,
Signature=<hex>``, with ``X-Sdk-Date: YYYYMMDDTHHMMSSZ`` (UTC, signed). The
canonical request is the method, the path with each segment percent-encoded
(``~`` kept) and a final ``/``, the query pairs sorted and encoded alike, the
signed headers as ``name:value`` lines (a blank line after them), their names
joined by ``;``, and the hex SHA-256 of the body (or ``X-Sdk-Content-Sha256``
when sent). The string to sign is ``SDK-HMAC-SHA256``, the date and the hex
SHA-256 of the canonical request, on three lines; the signature is its hex
HMAC-SHA256 with the secret key. A date more than 15 minutes from the server's
clock is refused (there is no nonce: a captured request may be replayed within
that window, as with the vendor).
"""

import contextlib
import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Final, NoReturn
from urllib.parse import parse_qsl, quote

from fastapi import Request

from onward import errors
from onward.domain.access import Principal
from onward.service.access_keys import AccessKeys

ALGORITHM: Final = "SDK-HMAC-SHA256"
#: the schemes of the SDK's signers (``huaweicloudsdkcore.signer``): a request
#: with one of them claims a signature, even in an algorithm not accepted here
_SIGNING_SCHEMES: Final = re.compile(r"(?:SDK|V11)-[A-Z0-9-]+")
_PARTS: Final = ("Access", "SignedHeaders", "Signature")
_ACCESS: Final = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_SIGNED_HEADERS: Final = re.compile(r"[a-z0-9-]+(?:;[a-z0-9-]+)*")
_SIGNATURE: Final = re.compile(r"[0-9a-fA-F]{64}")
_DATE: Final = re.compile(r"\d{8}T\d{6}Z")
_DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
_SKEW: Final = timedelta(minutes=15)


def is_signed(request: Request) -> bool:
    """Tell whether the request claims an AK/SK signature (of any SDK algorithm)."""
    scheme, _, _ = request.headers.get("authorization", "").strip().partition(" ")
    return _SIGNING_SCHEMES.fullmatch(scheme) is not None


async def verify(request: Request, keys: AccessKeys, *, now: datetime) -> Principal:
    """Return who signed the request; raise AuthenticationError."""
    ak, signed, signature = _credential(request.headers.get("authorization", ""))
    if "x-sdk-date" not in signed or "host" not in signed:
        _refuse("The signature must cover the Host and X-Sdk-Date headers")
    date = request.headers.get("x-sdk-date", "")
    moment = _date(date)
    if abs(now - moment) > _SKEW:
        _refuse("X-Sdk-Date is more than 15 minutes from the server's time")
    canonical = _canonical_request(request, signed, await request.body())
    to_sign = "\n".join(
        [ALGORITHM, date, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    return await keys.verify(ak, to_sign.encode(), signature)


def _credential(header: str) -> tuple[str, list[str], str]:
    """Return the access key id, signed header names and signature of a header."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme != ALGORITHM:
        _refuse(f"The signing algorithm {scheme} is not supported; use {ALGORITHM}")
    parts: dict[str, str] = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        parts[name] = value.strip()
    missing = [name for name in _PARTS if not parts.get(name)]
    if missing:
        _refuse(f"The SDK-HMAC-SHA256 Authorization header lacks {', '.join(missing)}")
    if not _ACCESS.fullmatch(parts["Access"]):
        _refuse("Access in the Authorization header is not an access key id")
    if not _SIGNED_HEADERS.fullmatch(parts["SignedHeaders"].lower()):
        _refuse("SignedHeaders in the Authorization header must be names joined by ;")
    if not _SIGNATURE.fullmatch(parts["Signature"]):
        _refuse("Signature in the Authorization header must be 64 hexadecimal digits")
    signed = parts["SignedHeaders"].lower().split(";")
    return parts["Access"], signed, parts["Signature"]


def _date(text: str) -> datetime:
    """Return the time of an ``X-Sdk-Date``; refuse a malformed one."""
    moment = None
    if _DATE.fullmatch(text):
        with contextlib.suppress(ValueError):  # no such month, day or hour
            moment = datetime.strptime(text, _DATE_FORMAT).replace(tzinfo=UTC)
    if moment is None:
        _refuse("X-Sdk-Date must be a UTC time written YYYYMMDDTHHMMSSZ")
    return moment


def _canonical_request(request: Request, signed: list[str], body: bytes) -> str:
    headers = []
    for name in signed:
        value = request.headers.get(name)
        if value is None:
            _refuse(f"The signed header {name} is missing")
        headers.append(f"{name}:{value.strip()}")
    payload = request.headers.get("x-sdk-content-sha256") or (
        hashlib.sha256(body).hexdigest()
    )
    return "\n".join(
        [
            request.method.upper(),
            _canonical_path(request.scope["path"]),
            _canonical_query(request.scope["query_string"].decode("latin-1")),
            "\n".join(headers) + "\n",
            ";".join(signed),
            payload,
        ]
    )


def _canonical_path(path: str) -> str:
    encoded = "/".join(quote(segment, safe="~") for segment in path.split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def _canonical_query(query: str) -> str:
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in pairs)


def _refuse(message: str) -> NoReturn:
    raise errors.AuthenticationError(message)
