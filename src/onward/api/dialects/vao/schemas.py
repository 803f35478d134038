"""
VAO v3 wire models: request bodies, their field names, and the continue options.

Bodies are read as ASP.NET Web API reads them (Json.NET): property names match
whatever their case (the vendor's own examples spell ``fullstop`` and
``restorepointDate`` where its tables say ``fullStop`` and ``restorePointDate``),
enum values too, and properties it does not know are ignored. A property given
twice in different cases with different values is refused. Bodies are parsed
by ``values.load_json`` (too deep a nesting is an invalid request).

Each property is read as Json.NET reads its .NET type, and refused in its
words (``json_net``): booleans, the restore date (ISO 8601 text or null,
never a number), text, and the continue option (an enum named by its names).
"""

from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from onward import errors
from onward.api.dialects import values
from onward.api.dialects.vao import json_net
from onward.domain.events import ContinueOption

#: where the plans API lives
PREFIX: Final = "/api/v3"

#: the names of the vendor's continue options
ContinueOptionName = Literal[
    "RetryFailedStep",
    "ProceedToNextStep",
    "RetryFailedVm",
    "ProceedToNextVm",
    "RetryFailedGroup",
    "ProceedToNextGroup",
]
#: the vendor's six continue options, in Onward's words
CONTINUE_OPTIONS: Final[Mapping[ContinueOptionName, ContinueOption]] = {
    "RetryFailedStep": ContinueOption.RETRY_STEP,
    "ProceedToNextStep": ContinueOption.PROCEED_STEP,
    "RetryFailedVm": ContinueOption.RETRY_TARGET,
    "ProceedToNextVm": ContinueOption.PROCEED_TARGET,
    "RetryFailedGroup": ContinueOption.RETRY_GROUP,
    "ProceedToNextGroup": ContinueOption.PROCEED_GROUP,
}

_BODY_TYPES: Final = ("application/json", "text/json")


class _Body(BaseModel):
    """A request body: lower-case aliases, unknown properties ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=False)


class ContinueIn(_Body):
    """``POST /Plans/{planId}/Continue`` (the option: an enum of the six names)."""

    execution_continue_options: Annotated[
        ContinueOptionName, json_net.enum_names(get_args(ContinueOptionName))
    ] = Field(alias="executioncontinueoptions")

    def option(self) -> ContinueOption:
        """Return the continue option, in Onward's words."""
        return CONTINUE_OPTIONS[self.execution_continue_options]


class HaltIn(_Body):
    """``POST /Plans/{planId}/Halt``."""

    full_stop: json_net.Boolean = Field(default=True, alias="fullstop")


class FailoverIn(_Body):
    """``POST /Plans/{planId}/Failover`` (``restorepointDate`` spelled either way)."""

    execute_chained_plans: json_net.Boolean = Field(
        default=False, alias="executechainedplans"
    )
    restore_point_date: json_net.Date = Field(default=None, alias="restorepointdate")
    protect_storage_volumes: json_net.Boolean = Field(
        default=False, alias="protectstoragevolumes"
    )


class RestoreIn(FailoverIn):
    """``POST /Plans/{planId}/Restore`` (protecting storage follows failovers only)."""

    restore_location_id: json_net.Text = Field(default=None, alias="restorelocationid")

    @field_validator("protect_storage_volumes")
    @classmethod
    def _no_protect(cls, protect: bool) -> bool:
        if protect:
            message = "protectStorageVolumes applies to Failover only."
            raise PydanticCustomError(json_net.VENDOR_MESSAGE, message)
        return protect


class FailbackIn(_Body):
    """``POST /Plans/{planId}/FailbackToProduction``."""

    restore_location_id: json_net.Text = Field(default=None, alias="restorelocationid")
    failback_restore_vm_tags: json_net.Boolean = Field(
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
        problems = [_problem(error) for error in exc.errors()]
        raise errors.InvalidDefinitionError(problems, subject="request") from None


class UnsupportedMediaTypeError(Exception):
    """The body is of a media type the endpoint does not read."""

    def __init__(self, media_type: str) -> None:
        self.media_type = media_type
        super().__init__(media_type)


def _lower_keys(document: Mapping[str, Any]) -> dict[str, Any]:
    lowered: dict[str, Any] = {}
    for key, given in document.items():
        name, value = key.lower(), json_net.read(given)
        if name in lowered and lowered[name] != value:
            msg = f"The property is given twice with different values ({key})."
            raise _invalid(msg, at=VENDOR_NAMES.get(name, key))
        lowered[name] = value
    return lowered


def _vendor_name(location: tuple[int | str, ...]) -> str:
    first = str(location[0]) if location else "request"
    return VENDOR_NAMES.get(first, first)


def _problem(error: ErrorDetails) -> errors.Problem:
    name = _vendor_name(error["loc"])
    return errors.Problem(name, json_net.message(error, name))


def _invalid(message: str, *, at: str = "request") -> errors.InvalidDefinitionError:
    return errors.InvalidDefinitionError(
        [errors.Problem(at, message)], subject="request"
    )
