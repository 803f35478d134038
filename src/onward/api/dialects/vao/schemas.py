"""
VAO v3 wire models: request bodies, their field names, and the continue options.

Bodies are read as ASP.NET Web API reads them (Json.NET): property names match
whatever their case (the vendor's own examples spell ``fullstop`` and
``restorepointDate`` where its tables say ``fullStop`` and ``restorePointDate``),
enum values too, and properties it does not know are ignored. A property given
twice in different cases with different values is refused. Bodies are parsed
by ``values.load_json`` (too deep a nesting is an invalid request).

Booleans are read as Json.NET reads a ``bool``: JSON ``true``/``false``, a
number (0 is false, any other true), or the text ``true``/``false`` in any
case with surrounding spaces (.NET's ``bool.TryParse``); any other text, an
empty one or null is refused (JamesNK/Newtonsoft.Json ``JsonReader.ReadAsBoolean``,
and its test ``DeserializeBooleans``).
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from onward import errors
from onward.api.dialects import values
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
#: the error type of a value refused with a message of the vendor's own
_VENDOR_MESSAGE: Final = "vendor_message"


def _json_net_bool(value: Any) -> bool:
    """Return a body value as Json.NET reads it into a ``bool``; refuse the rest."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    word = value.strip().lower() if isinstance(value, str) else None
    if word in ("true", "false"):
        return word == "true"
    if value is None or value == "":
        message = "Error converting value {null} to type 'System.Boolean'."
    elif isinstance(value, str):
        message = "Could not convert string to boolean: {value}."
    else:
        token = "StartArray" if isinstance(value, list) else "StartObject"
        message = f"Error reading boolean. Unexpected token: {token}."
    raise PydanticCustomError(_VENDOR_MESSAGE, message, {"value": value})


#: a boolean property (Json.NET's reading of a ``bool``)
VendorBool = Annotated[bool, BeforeValidator(_json_net_bool)]


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

    full_stop: VendorBool = Field(default=True, alias="fullstop")


class FailoverIn(_Body):
    """``POST /Plans/{planId}/Failover`` (``restorepointDate`` spelled either way)."""

    execute_chained_plans: VendorBool = Field(
        default=False, alias="executechainedplans"
    )
    restore_point_date: datetime | None = Field(default=None, alias="restorepointdate")
    protect_storage_volumes: VendorBool = Field(
        default=False, alias="protectstoragevolumes"
    )


class RestoreIn(FailoverIn):
    """``POST /Plans/{planId}/Restore`` (protecting storage follows failovers only)."""

    restore_location_id: str | None = Field(default=None, alias="restorelocationid")

    @field_validator("protect_storage_volumes")
    @classmethod
    def _no_protect(cls, protect: bool) -> bool:
        if protect:
            message = "protectStorageVolumes applies to Failover only."
            raise PydanticCustomError(_VENDOR_MESSAGE, message)
        return protect


class FailbackIn(_Body):
    """``POST /Plans/{planId}/FailbackToProduction``."""

    restore_location_id: str | None = Field(default=None, alias="restorelocationid")
    failback_restore_vm_tags: VendorBool = Field(
        default=False, alias="failbackrestorevmtags"
    )


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
        document = values.load_json(raw)
    except values.JsonBodyError as exc:
        raise _invalid(str(exc)) from None
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
    if error.get("type") == _VENDOR_MESSAGE:
        return str(error.get("msg"))
    reason = str(error.get("msg")).rstrip(".")
    return f"The value '{error.get('input')}' is not valid: {reason}."


def _invalid(message: str, *, at: str = "request") -> errors.InvalidDefinitionError:
    return errors.InvalidDefinitionError(
        [errors.Problem(at, message)], subject="request"
    )
