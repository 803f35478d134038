"""
Tests for run parameters: their definitions in a plan and coerce_params.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onward.domain.plan_schema import coerce_params, parse_plan
from onward.domain.plans import ParamSpec, ParamType, Plan
from onward.errors import InvalidDefinitionError, Problem

_GROUPS = [{"name": "g", "targets": ["t"], "steps": [{"name": "s", "action": "noop"}]}]


def plan_with_params(params: Any) -> Plan:
    """Return the plan of a valid document declaring ``params``."""
    return parse_plan({"name": "p", "params": params, "groups": _GROUPS})


def definition_problems(params: Any) -> list[Problem]:
    """Return the problems parse_plan raises for a plan declaring ``params``."""
    with pytest.raises(InvalidDefinitionError) as info:
        plan_with_params(params)
    return list(info.value.problems)


def coercion_problems(
    plan: Plan, raw: Any, *, from_strings: bool = False
) -> list[Problem]:
    """Return the problems coerce_params raises."""
    with pytest.raises(InvalidDefinitionError) as info:
        coerce_params(plan, raw, from_strings=from_strings)
    assert info.value.subject == "parameters"
    return list(info.value.problems)


# -- definitions --------------------------------------------------------------------


def test_parameter_definitions_become_param_specs() -> None:
    """Every key of a parameter definition reaches its ParamSpec."""
    params = {
        "restore_point": {"type": "datetime", "description": "when to restore to"},
        "site": {"type": "string", "required": True, "choices": ["a", "b"]},
        "batch": {"type": "integer", "default": 5},
        "ratio": {"type": "number", "default": 0.5},
        "dry_run": {"type": "boolean", "default": False},
    }

    actual = plan_with_params(params).params

    assert actual == {
        "restore_point": ParamSpec(
            name="restore_point",
            type=ParamType.DATETIME,
            description="when to restore to",
        ),
        "site": ParamSpec(
            name="site", type=ParamType.STRING, required=True, choices=("a", "b")
        ),
        "batch": ParamSpec(name="batch", type=ParamType.INTEGER, default=5),
        "ratio": ParamSpec(name="ratio", type=ParamType.NUMBER, default=0.5),
        "dry_run": ParamSpec(name="dry_run", type=ParamType.BOOLEAN, default=False),
    }


def test_a_parameter_without_definition_is_an_optional_string() -> None:
    """An empty or null definition declares an optional string parameter."""
    actual = plan_with_params({"ticket": None, "note": {}}).params

    assert actual == {
        "ticket": ParamSpec(name="ticket"),
        "note": ParamSpec(name="note"),
    }


def test_a_datetime_default_is_normalised_to_an_iso_string_in_utc() -> None:
    """A datetime default without a time zone is taken as UTC."""
    params = {"at": {"type": "datetime", "default": "2024-05-01 10:00"}}

    actual = plan_with_params(params).params["at"].default

    assert actual == "2024-05-01T10:00:00+00:00"


@pytest.mark.parametrize(
    ("definition", "path", "message"),
    [
        (
            {"type": "date"},
            "type",
            "must be one of 'string', 'integer', 'number', 'boolean' or 'datetime', "
            "got 'date' (did you mean 'datetime'?)",
        ),
        (
            {"type": "integer", "default": "5"},
            "default",
            "expected an integer, got string",
        ),
        (
            {"type": "integer", "default": 1.5},
            "default",
            "expected an integer, got number",
        ),
        (
            {"type": "boolean", "default": "yes"},
            "default",
            "expected a value of type boolean, got string",
        ),
        (
            {"type": "number", "default": True},
            "default",
            "expected a value of type number, got boolean",
        ),
        (
            {"type": "datetime", "default": "tomorrow"},
            "default",
            "expected an ISO-8601 date and time, got 'tomorrow'",
        ),
        (
            {"required": True, "default": "x"},
            "default",
            "a required parameter cannot have a default; drop one of them",
        ),
        (
            {"required": "yes"},
            "required",
            "expected a boolean (true or false), got string",
        ),
        ({"description": 3}, "description", "expected a string, got integer"),
        ({"choices": "a,b"}, "choices", "expected a list, got string"),
        ({"choices": []}, "choices", "must not be empty"),
        (
            {"choices": ["a", 2]},
            "choices[1]",
            "expected a value of type string, got integer",
        ),
        (
            {"choices": ["a", "a"]},
            "choices[1]",
            "duplicate choice 'a' (first at params.x.choices[0])",
        ),
        (
            {"choices": ["a", "b"], "default": "c"},
            "default",
            "must be one of the choices, got 'c'",
        ),
        ({"typ": "string"}, "typ", "unknown key 'typ' (did you mean 'type'?)"),
    ],
)
def test_invalid_parameter_definitions_are_reported(
    definition: dict[str, Any], path: str, message: str
) -> None:
    """Each mistake in a parameter definition is reported at its path."""
    actual = definition_problems({"x": definition})

    assert actual == [Problem(f"params.x.{path}", message)]


@pytest.mark.parametrize("name", ["1st", "with-dash", "has space", "x" * 65])
def test_parameter_names_must_be_template_identifiers(name: str) -> None:
    """Parameter names are usable as run.params.<name> in templates."""
    actual = definition_problems({name: {}})

    assert [problem.path for problem in actual] == [f"params.{name}"]
    assert actual[0].message.startswith(f"invalid parameter name {name!r}")


def test_a_parameter_definition_must_be_a_mapping() -> None:
    """Shorthand definitions such as ``x: integer`` are refused with the shape."""
    actual = definition_problems({"x": "integer"})

    assert actual == [
        Problem(
            "params.x", "expected a mapping (type, required, default, ...), got string"
        )
    ]


def test_a_wrong_type_does_not_also_report_its_default() -> None:
    """With an unknown type only the type is reported, not the default against it."""
    actual = definition_problems({"x": {"type": "int", "default": 3}})

    assert [problem.path for problem in actual] == ["params.x.type"]


# -- coercion -----------------------------------------------------------------------

PLAN = plan_with_params(
    {
        "site": {"type": "string", "required": True, "choices": ["primary", "dr"]},
        "batch": {"type": "integer", "default": 5},
        "ratio": {"type": "number"},
        "dry_run": {"type": "boolean", "default": False},
        "restore_point": {"type": "datetime"},
    }
)


def test_given_values_are_kept_and_defaults_filled_in() -> None:
    """Missing optional parameters take their default, or None without one."""
    actual = coerce_params(PLAN, {"site": "dr", "ratio": 0.25})

    assert actual == {
        "site": "dr",
        "batch": 5,
        "ratio": 0.25,
        "dry_run": False,
        "restore_point": None,
    }


def test_a_null_value_counts_as_not_given() -> None:
    """A parameter given as null takes its default."""
    actual = coerce_params(PLAN, {"site": "dr", "batch": None})

    assert actual["batch"] == 5


def test_a_missing_required_parameter_is_reported() -> None:
    """Required parameters must be given."""
    actual = coercion_problems(PLAN, {})

    assert actual == [Problem("params.site", "missing required parameter")]


def test_an_unknown_parameter_is_reported_with_a_suggestion() -> None:
    """A misspelt parameter name suggests the declared one."""
    actual = coercion_problems(PLAN, {"site": "dr", "batchh": 3})

    assert actual == [
        Problem("params.batchh", "unknown parameter 'batchh' (did you mean 'batch'?)")
    ]


def test_a_value_outside_the_choices_is_reported() -> None:
    """A parameter with choices accepts only those values."""
    actual = coercion_problems(PLAN, {"site": "tertiary"})

    assert actual == [
        Problem("params.site", "must be one of 'primary', 'dr', got 'tertiary'")
    ]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("batch", "5", "expected an integer, got string"),
        ("batch", True, "expected a value of type integer, got boolean"),
        ("batch", 2.5, "expected an integer, got number"),
        ("ratio", "0.5", "expected a value of type number, got string"),
        ("ratio", float("inf"), "expected a finite number, got inf"),
        ("dry_run", 1, "expected a value of type boolean, got integer"),
        ("site", 7, "expected a value of type string, got integer"),
        (
            "restore_point",
            1714557600,
            "expected an ISO-8601 date and time, got integer",
        ),
    ],
)
def test_values_of_the_wrong_type_are_reported(
    name: str, value: Any, message: str
) -> None:
    """Native values must have the declared type."""
    actual = coercion_problems(PLAN, {"site": "dr", name: value})

    assert actual == [Problem(f"params.{name}", message)]


def test_every_parameter_problem_is_reported_at_once() -> None:
    """Unknown, missing and mistyped parameters are all reported together."""
    actual = coercion_problems(PLAN, {"batch": "x", "dry_run": "no", "extra": 1})

    assert actual == [
        Problem("params.extra", "unknown parameter 'extra'"),
        Problem("params.site", "missing required parameter"),
        Problem("params.batch", "expected an integer, got string"),
        Problem("params.dry_run", "expected a value of type boolean, got string"),
    ]


def test_parameters_must_be_a_mapping() -> None:
    """Parameters given as a list are refused."""
    actual = coercion_problems(PLAN, ["site=dr"])

    assert actual == [
        Problem("params", "expected a mapping of parameter names to values, got list")
    ]


def test_an_integral_float_is_accepted_as_an_integer() -> None:
    """JSON clients may send 3.0 for an integer."""
    actual = coerce_params(PLAN, {"site": "dr", "batch": 3.0})["batch"]

    assert actual == 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T10:00:00+02:00", "2024-05-01T10:00:00+02:00"),
        ("2024-05-01T08:00:00Z", "2024-05-01T08:00:00+00:00"),
        ("2024-05-01T08:00:00", "2024-05-01T08:00:00+00:00"),
        ("2024-05-01", "2024-05-01T00:00:00+00:00"),
        (datetime(2024, 5, 1, 8, 0, tzinfo=UTC), "2024-05-01T08:00:00+00:00"),
        (
            datetime(2024, 5, 1, 8, 0, tzinfo=timezone(timedelta(hours=-5))),
            "2024-05-01T08:00:00-05:00",
        ),
        (datetime(2024, 5, 1, 8, 0), "2024-05-01T08:00:00+00:00"),  # noqa: DTZ001
    ],
)
def test_datetimes_become_iso_strings_and_naive_ones_are_utc(
    value: Any, expected: str
) -> None:
    """Datetimes keep their offset; one without a time zone is taken as UTC."""
    actual = coerce_params(PLAN, {"site": "dr", "restore_point": value})

    assert actual["restore_point"] == expected


# -- from strings --------------------------------------------------------------------


def test_values_from_the_command_line_are_parsed_per_type() -> None:
    """With from_strings every value is text parsed by its declared type."""
    raw = {
        "site": "dr",
        "batch": "12",
        "ratio": "0.75",
        "dry_run": "true",
        "restore_point": "2024-05-01T10:00:00Z",
    }

    actual = coerce_params(PLAN, raw, from_strings=True)

    assert actual == {
        "site": "dr",
        "batch": 12,
        "ratio": 0.75,
        "dry_run": True,
        "restore_point": "2024-05-01T10:00:00+00:00",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("on", True),
        ("1", True),
        ("false", False),
        ("No", False),
        ("off", False),
        ("0", False),
    ],
)
def test_boolean_words_from_the_command_line(text: str, expected: bool) -> None:
    """Booleans accept true/false, yes/no, on/off and 1/0 in any case."""
    actual = coerce_params(PLAN, {"site": "dr", "dry_run": text}, from_strings=True)

    assert actual["dry_run"] is expected


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("batch", "1.5", "expected an integer, got '1.5'"),
        ("batch", "ten", "expected an integer, got 'ten'"),
        ("ratio", "nan", "expected a number, got 'nan'"),
        ("ratio", "1/2", "expected a number, got '1/2'"),
        ("dry_run", "maybe", "expected true or false, got 'maybe'"),
        (
            "restore_point",
            "May 1st",
            "expected an ISO-8601 date and time, got 'May 1st'",
        ),
        ("site", "backup", "must be one of 'primary', 'dr', got 'backup'"),
    ],
)
def test_text_that_does_not_spell_its_type_is_reported(
    name: str, text: str, message: str
) -> None:
    """Command-line text is checked against the parameter's type and choices."""
    raw = {"site": "dr", name: text}

    actual = coercion_problems(PLAN, raw, from_strings=True)

    assert actual == [Problem(f"params.{name}", message)]


def test_numbers_from_text_keep_integers_whole() -> None:
    """A number parameter given as "3" is the integer 3, "3.5" the float."""
    whole = coerce_params(PLAN, {"site": "dr", "ratio": "3"}, from_strings=True)
    fraction = coerce_params(PLAN, {"site": "dr", "ratio": "-3.5"}, from_strings=True)

    assert (whole["ratio"], fraction["ratio"]) == (3, -3.5)


def test_non_text_values_are_checked_as_they_are_with_from_strings() -> None:
    """from_strings parses text only; other values are checked natively."""
    actual = coerce_params(PLAN, {"site": "dr", "batch": 7}, from_strings=True)

    assert actual["batch"] == 7


def test_a_string_parameter_keeps_its_text_untouched() -> None:
    """Strings from the command line keep their spaces."""
    plan = plan_with_params({"note": {}})

    actual = coerce_params(plan, {"note": "  two words "}, from_strings=True)

    assert actual == {"note": "  two words "}


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_integers_round_trip_through_command_line_text(number: int) -> None:
    """Any integer written as text comes back as the same integer."""
    actual = coerce_params(
        PLAN, {"site": "dr", "batch": str(number)}, from_strings=True
    )

    assert actual["batch"] == number


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_finite_numbers_round_trip_through_command_line_text(number: float) -> None:
    """Any finite float written with repr comes back as the same number."""
    actual = coerce_params(
        PLAN, {"site": "dr", "ratio": repr(number)}, from_strings=True
    )

    assert actual["ratio"] == number


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),  # noqa: DTZ001
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    )
)
def test_aware_datetimes_round_trip_through_their_iso_text(moment: datetime) -> None:
    """An aware datetime written in ISO-8601 comes back as the same instant."""
    actual = coerce_params(
        PLAN, {"site": "dr", "restore_point": moment.isoformat()}, from_strings=True
    )

    assert datetime.fromisoformat(actual["restore_point"]) == moment
