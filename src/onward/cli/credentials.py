"""
The saved sign-in of ``onward login``: server URL, token, workspace, TLS choice.

Kept in ``credentials.json`` in ``$ONWARD_CONFIG_DIR``, or else in the user's
config directory (``platformdirs.user_config_dir("onward")``). The file is
readable by its owner only (0600, in a 0700 directory): it holds a bearer token.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

import platformdirs

from onward import errors

FILE_NAME: Final = "credentials.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """Where the CLI talks to and as whom."""

    #: the server, e.g. ``https://onward.example:8400``
    url: str
    #: a session token or API key; None when not signed in
    token: str | None = None
    #: the workspace of plan and run commands
    workspace: str = "default"
    #: TLS verification: True, False (``--insecure``) or a CA bundle's path
    verify: bool | str = True


def config_dir() -> Path:
    """Return the directory of the credentials file."""
    given = os.environ.get("ONWARD_CONFIG_DIR")
    if given:
        return Path(given)
    return Path(platformdirs.user_config_dir("onward"))


def credentials_path() -> Path:
    """Return the path of the credentials file."""
    return config_dir() / FILE_NAME


def load() -> Credentials | None:
    """Return the saved credentials, or None when nobody has logged in.

    Raises:
        OnwardError: the file exists but cannot be read.
    """
    path = credentials_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        verify = data.get("verify", True)
        return Credentials(
            url=str(data["url"]),
            token=data.get("token"),
            workspace=str(data.get("workspace") or "default"),
            verify=verify if isinstance(verify, bool | str) else True,
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        msg = f"cannot read {path}: {exc}; run `onward login` again"
        raise errors.OnwardError(msg) from exc


def save(credentials: Credentials) -> Path:
    """Write the credentials, readable by their owner only; return the file's path."""
    path = credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = json.dumps(asdict(credentials), indent=2) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(text)
    return path


def remove() -> bool:
    """Delete the saved credentials; tell whether there were any."""
    try:
        credentials_path().unlink()
    except FileNotFoundError:
        return False
    return True
