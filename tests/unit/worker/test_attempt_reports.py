"""The report of an attempt whose result the database would not store."""

from __future__ import annotations

from onward import errors
from onward.domain.runs import AttemptStatus
from onward.service.work import Report
from onward.worker.attempts import unstorable


def test_a_success_that_cannot_be_stored_is_a_failure_not_to_retry() -> None:
    """Running the step again would do it twice: the failure is not retryable."""
    report = Report(status=AttemptStatus.SUCCEEDED, output={"stdout": "done"})

    plain = unstorable(report, errors.StorageError("the database said no"))

    assert plain == Report(
        status=AttemptStatus.FAILED,
        error=(
            "the attempt ended succeeded, but its result could not be stored: "
            "the database said no"
        ),
        retryable=False,
    )


def test_another_end_is_kept_with_its_retryability() -> None:
    """A timed-out attempt stays timed out and as retryable as it was."""
    report = Report(status=AttemptStatus.TIMED_OUT, error="timed out after 5s")

    plain = unstorable(report, TypeError())

    assert plain.status is AttemptStatus.TIMED_OUT
    assert plain.retryable is True
    assert plain.output == {}
    assert plain.error == (
        "the attempt ended timed out, but its result could not be stored: TypeError"
    )
