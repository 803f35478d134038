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
_HEADER: Final = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=(?P<ak>[^,\s]+),\s*"
    r"SignedHeaders=(?P<headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-fA-F]+)$"
)
_DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
_SKEW: Final = timedelta(minutes=15)


def is_signed(request: Request) -> bool:
    """Tell whether the request claims an AK/SK signature."""
    return request.headers.get("authorization", "").startswith(ALGORITHM)


async def verify(request: Request, keys: AccessKeys, *, now: datetime) -> Principal:
    """Return who signed the request; raise AuthenticationError."""
    found = _HEADER.match(request.headers.get("authorization", "").strip())
    if found is None:
        _refuse("The Authorization header is not an SDK-HMAC-SHA256 signature")
    signed = found["headers"].lower().split(";")
    date = request.headers.get("x-sdk-date", "")
    if "x-sdk-date" not in signed or "host" not in signed:
        _refuse("The signature must cover the Host and X-Sdk-Date headers")
    try:
        moment = datetime.strptime(date, _DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        _refuse("X-Sdk-Date must be YYYYMMDDTHHMMSSZ")
    if abs(now - moment) > _SKEW:
        _refuse("X-Sdk-Date is more than 15 minutes from the server's time")
    canonical = _canonical_request(request, signed, await request.body())
    to_sign = "\n".join(
        [ALGORITHM, date, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    return await keys.verify(found["ak"], to_sign.encode(), found["signature"])


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
