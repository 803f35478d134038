"""
VAO v3 wire models: request bodies, their field names, and the continue options.

Bodies are read as ASP.NET Web API reads them (Json.NET): property names match
whatever their case (the vendor's own examples spell ``fullstop`` and
``restorepointDate`` where its tables say ``fullStop`` and ``restorePointDate``),
enum values too, and properties it does not know are ignored. A property given
twice in different cases with different values is refused.
"""

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from onward import errors
from onward.domain.events import ContinueOption

#: where the plans API lives
PREFIX: Final = "/api/v3"

#: the vendor's six continue options, in Onward's words
CONTINUE_OPTIONS: Final[Mapping[str, ContinueOption]] = {
    "RetryFailedStep": ContinueOption.RETRY_STEP,
    "ProceedToNextStep": ContinueOption.PROCEED_STEP,
    "RetryFailedVm": ContinueOption.RETRY_TARGET,
    "ProceedToNextVm": ContinueOption.PROCEED_TARGET,
    "RetryFailedGroup": ContinueOption.RETRY_GROUP,
    "ProceedToNextGroup": ContinueOption.PROCEED_GROUP,
}
_OPTIONS_BY_LOWER: Final = {name.lower(): name for name in CONTINUE_OPTIONS}

_BODY_TYPES: Final = ("application/json", "text/json")


class _Body(BaseModel):
    """A request body: lower-case aliases, unknown properties ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=False)


class ContinueIn(_Body):
    """``POST /Plans/{planId}/Continue``."""

    execution_continue_options: str = Field(alias="executioncontinueoptions")

    def option(self) -> ContinueOption:
        """Return the continue option named (in any case); raise if unknown."""
        name = _OPTIONS_BY_LOWER.get(self.execution_continue_options.strip().lower())
        if name is None:
            known = ", ".join(CONTINUE_OPTIONS)
            msg = (
                f"The value '{self.execution_continue_options}' is not valid; "
                f"expected one of: {known}."
            )
            raise _invalid(msg, at="executionContinueOptions")
        return CONTINUE_OPTIONS[name]


class HaltIn(_Body):
    """``POST /Plans/{planId}/Halt``."""

    full_stop: bool = Field(default=True, alias="fullstop")


class FailoverIn(_Body):
    """``POST /Plans/{planId}/Failover`` (``restorepointDate`` spelled either way)."""

    execute_chained_plans: bool = Field(default=False, alias="executechainedplans")
    restore_point_date: datetime | None = Field(default=None, alias="restorepointdate")
    protect_storage_volumes: bool = Field(default=False, alias="protectstoragevolumes")


class RestoreIn(FailoverIn):
    """``POST /Plans/{planId}/Restore``."""

    restore_location_id: str | None = Field(default=None, alias="restorelocationid")


class FailbackIn(_Body):
    """``POST /Plans/{planId}/FailbackToProduction``."""

    restore_location_id: str | None = Field(default=None, alias="restorelocationid")
    failback_restore_vm_tags: bool = Field(default=False, alias="failbackrestorevmtags")


#: the vendor's spelling of each property, for error messages
VENDOR_NAMES: Final = {
    "executioncontinueoptions": "executionContinueOptions",
    "fullstop": "fullStop",
    "executechainedplans": "executeChainedPlans",
    "restorepointdate": "restorePointDate",
    "protectstoragevolumes": "protectStorageVolumes",
    "restorelocationid": "restoreLocationId",
    "failbackrestorevmtags": "failbackRestoreVMTags",
}

Model = TypeVar("Model", bound=_Body)


def parse_body(
    model: type[Model], raw: bytes, content_type: str | None, *, required: bool
) -> Model:
    """Return a request body read the vendor's way.

    Args:
        model: the body's model.
        raw: the body as sent.
        content_type: the request's Content-Type (JSON; none is read as JSON).
        required: whether an empty body is refused (else it is ``{}``).

    Raises:
        InvalidDefinitionError: malformed JSON, a bad or missing property.
        UnsupportedMediaTypeError: a body of a media type other than JSON.
    """
    media = (content_type or "").split(";")[0].strip().lower()
    if raw.strip() and media and media not in _BODY_TYPES:
        raise UnsupportedMediaTypeError(media)
    if not raw.strip():
        if required:
            msg = "The request body is required."
            raise _invalid(msg)
        raw = b"{}"
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        msg = f"The body is not valid JSON: {exc}"
        raise _invalid(msg) from None
    if not isinstance(document, dict):
        msg = "The body must be a JSON object."
        raise _invalid(msg)
    try:
        return model.model_validate(_lower_keys(document))
    except ValidationError as exc:
        problems = [
            errors.Problem(_vendor_name(error["loc"]), _message(error))
            for error in exc.errors()
        ]
        raise errors.InvalidDefinitionError(problems, subject="request") from None


class UnsupportedMediaTypeError(Exception):
    """The body is of a media type the endpoint does not read."""

    def __init__(self, media_type: str) -> None:
        self.media_type = media_type
        super().__init__(media_type)


def _lower_keys(document: Mapping[str, Any]) -> dict[str, Any]:
    lowered: dict[str, Any] = {}
    for key, value in document.items():
        name = key.lower()
        if name in lowered and lowered[name] != value:
            msg = f"The property is given twice with different values ({key})."
            raise _invalid(msg, at=VENDOR_NAMES.get(name, key))
        lowered[name] = value
    return lowered


def _vendor_name(location: tuple[int | str, ...]) -> str:
    first = str(location[0]) if location else "request"
    return VENDOR_NAMES.get(first, first)


def _message(error: Mapping[str, Any]) -> str:
    if error.get("type") == "missing":
        return f"The {_vendor_name(error['loc'])} field is required."
    return f"The value '{error.get('input')}' is not valid: {error.get('msg')}."


def _invalid(message: str, *, at: str = "request") -> errors.InvalidDefinitionError:
    return errors.InvalidDefinitionError(
        [errors.Problem(at, message)], subject="request"
    )
