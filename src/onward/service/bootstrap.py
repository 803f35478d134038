"""
First-start bootstrap: the first admin, from the ONWARD_ADMIN_* environment variables.
"""

from __future__ import annotations

import os
from typing import Final

import structlog

from onward import errors
from onward.service.auth import AuthService

#: the environment variable naming the first admin's username
ADMIN_USERNAME_ENV: Final = "ONWARD_ADMIN_USERNAME"
#: the environment variable holding the first admin's password
ADMIN_PASSWORD_ENV: Final = "ONWARD_ADMIN_PASSWORD"  # noqa: S105 - a variable's name

_log = structlog.get_logger("onward.bootstrap")


async def bootstrap_admin_from_env(auth: AuthService) -> None:
    """Create the first admin from the environment, on an installation with no user.

    When both ``ONWARD_ADMIN_USERNAME`` and ``ONWARD_ADMIN_PASSWORD`` are set
    (and not empty) and no user exists yet, the admin is created as
    ``onward admin create`` would: a superuser, admin of the ``default``
    workspace. Otherwise nothing changes: once any user exists, the variables
    are ignored, so that a restart never resets a password (use
    ``onward admin create USERNAME --reset`` for that).

    Raises:
        InvalidDefinitionError: the username or the password is not acceptable
            (the password needs at least 8 characters).
    """
    username = os.environ.get(ADMIN_USERNAME_ENV, "")
    password = os.environ.get(ADMIN_PASSWORD_ENV, "")
    if not username and not password:
        return
    if not username or not password:
        missing = ADMIN_PASSWORD_ENV if username else ADMIN_USERNAME_ENV
        _log.warning("admin.bootstrap_skipped", missing=missing)
        return
    if await auth.has_users():
        return
    try:
        await auth.create_admin(username, password)
    except errors.AlreadyExistsError:
        # another server starting on the same database created it first
        return
    _log.info("admin.bootstrapped", username=username)
