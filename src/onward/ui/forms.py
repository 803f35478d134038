"""
Console form bodies: URL-encoded fields read from a request, size-limited.

The console's forms are ``application/x-www-form-urlencoded`` (what browsers
and htmx send by default), so no multipart parser is needed: a plan file is
read into the text box in the browser and sent as text.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Final, NoReturn
from urllib.parse import parse_qs

from fastapi import Depends, HTTPException, Request

from onward.ui.console import get_console

#: the largest form body accepted (a plan text is the biggest field)
MAX_FORM_BYTES: Final = 2 * 1024 * 1024
_URLENCODED: Final = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class Form:
    """The fields of a submitted form; each may be given several times."""

    fields: Mapping[str, list[str]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        """Return the first value of a field, stripped of surrounding blanks."""
        values = self.fields.get(name)
        return values[0].strip() if values else default

    def raw(self, name: str) -> str:
        """Return the first value of a field as sent (for texts such as plans)."""
        values = self.fields.get(name)
        return values[0] if values else ""

    def all(self, name: str) -> list[str]:
        """Return every non-blank value of a field, in order."""
        return [v.strip() for v in self.fields.get(name, []) if v.strip()]

    def checked(self, name: str) -> bool:
        """Tell whether a checkbox was ticked."""
        return bool(self.fields.get(name))


async def read_body(request: Request) -> bytes:
    """Return the request body, read once (the console's routes read it first).

    A body may be ``MAX_FORM_BYTES`` long, or the app's request body limit if
    that is lower; the 413 of either names the limit.

    Raises:
        HTTPException: 413 for a body over the limit.
    """
    limit = min(MAX_FORM_BYTES, get_console(request).max_request_body)
    if _declared_over(request.headers.get("content-length", ""), limit):
        _refuse(limit)
    # the app's own limit holds while the body is read
    body = await request.body()
    if len(body) > limit:
        _refuse(limit)
    return body


async def read_form(request: Request) -> Form:
    """Return the URL-encoded fields of a request body (an empty form if none).

    Raises:
        HTTPException: 413 for a body over the limit, 415 for another media type.
    """
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    body = await read_body(request)
    if not body:
        return Form()
    if media != _URLENCODED:
        detail = f"The console accepts {_URLENCODED} forms only."
        raise HTTPException(status_code=415, detail=detail)
    text = body.decode("utf-8", errors="replace")
    return Form(parse_qs(text, keep_blank_values=True, max_num_fields=1000))


def _declared_over(declared: str, limit: int) -> bool:
    """Tell whether a ``Content-Length`` passes the limit, however many digits."""
    digits = declared.strip().lstrip("0")
    if not (digits.isascii() and digits.isdigit()):
        return False
    return len(digits) > len(str(limit)) or int(digits) > limit


def _refuse(limit: int) -> NoReturn:
    msg = f"The form is larger than the limit of {limit} bytes."
    raise HTTPException(status_code=413, detail=msg)


#: the submitted form, read once per request (dependencies share it)
FormDep = Annotated[Form, Depends(read_form)]
