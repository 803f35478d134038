"""
Settings: every knob of Onward, from ONWARD_* environment variables or a TOML file.
"""

from __future__ import annotations

import os
import socket
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class HttpsListener(BaseModel):
    """A further listener: the same application over HTTPS on a port of its own."""

    model_config = ConfigDict(extra="forbid")

    #: its port
    port: int = Field(ge=1, le=65535)
    #: its address (None: the server's ``host``)
    host: str | None = None
    #: its certificate chain (PEM; None: the server's ``certfile``)
    certfile: str | None = None
    #: the private key of its certfile (PEM; None: the server's ``keyfile``)
    keyfile: str | None = None

    @model_validator(mode="after")
    def _check_pair(self) -> Self:
        """Require the certificate and its key together."""
        if (self.certfile is None) != (self.keyfile is None):
            msg = "a listener's certificate needs both certfile and keyfile"
            raise ValueError(msg)
        return self


class Settings(BaseSettings):
    """Onward's configuration; see docs/operations.md for each setting."""

    model_config = SettingsConfigDict(env_prefix="ONWARD_", extra="forbid")

    #: where runs are kept: a SQLite file or PostgreSQL URL (None: the user's data dir)
    database_url: str | None = None
    #: address the server listens on
    host: str = "127.0.0.1"
    #: port the server listens on
    port: int = Field(default=8400, ge=0, le=65535)
    #: the server's TLS certificate chain (PEM); with keyfile, it serves HTTPS
    certfile: str | None = None
    #: the private key of certfile (PEM)
    keyfile: str | None = None
    #: attempts run at once by the server's local executor, or by a worker
    concurrency: int = Field(default=16, ge=1)
    #: seconds between heartbeats (and crash checks)
    heartbeat_interval: float = Field(default=2.0, gt=0)
    #: seconds without a heartbeat after which a worker's attempts are interrupted
    heartbeat_timeout: float = Field(default=15.0, gt=0)
    #: seconds between sweeps for queued attempts nobody has taken
    poll_interval: float = Field(default=0.5, gt=0)
    #: seconds running steps get to finish when the server stops
    shutdown_grace: float = Field(default=10.0, ge=0)
    #: this process's name in heartbeats
    worker_name: str = Field(default_factory=socket.gethostname)
    #: log level: debug, info, warning, error
    log_level: str = "info"
    #: log format: console or json
    log_format: str = "console"
    #: who runs steps: ``local`` (the server itself) or ``celery`` (onward workers)
    executor: Literal["local", "celery"] = "local"
    #: the Celery broker of the celery executor: ``redis://...`` or ``amqp://...``
    broker_url: str | None = None
    #: seconds after which an attempt still queued is sent to the broker again
    redispatch_after: float = Field(default=30.0, gt=0)
    #: seconds a server holds the scheduler lease without renewing it (None: the
    #: heartbeat timeout; never less than three heartbeat intervals)
    lease_ttl: float | None = Field(default=None, gt=0)
    #: the server secret that access keys' secret keys are derived from (request
    #: signing); None: access keys are off. Changing it invalidates every secret key.
    access_key_master: str | None = Field(default=None, min_length=32)
    #: the largest request body the HTTP side reads, in bytes (larger: 413)
    max_request_body: int = Field(default=16 * 1024 * 1024, ge=1024)
    #: further listeners, each serving the same application over HTTPS on a
    #: port of its own (a port that clients of a dialect expect, say)
    https_listeners: list[HttpsListener] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_tls(self) -> Self:
        """Require the certificate and its key together."""
        if (self.certfile is None) != (self.keyfile is None):
            msg = "HTTPS needs both certfile and keyfile (ONWARD_CERTFILE/KEYFILE)"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _check_https_listeners(self) -> Self:
        """Require a certificate for each listener, and an address of its own."""
        taken = {(self.host, self.port)}
        for index, listener in enumerate(self.https_listeners):
            name = f"https_listeners[{index}]"
            if self.listener_tls(listener) is None:
                msg = (
                    f"{name}: a listener serves HTTPS only; give its certfile and "
                    "keyfile, or the server's certfile and keyfile"
                )
                raise ValueError(msg)
            address = (listener.host or self.host, listener.port)
            if address in taken:
                msg = f"{name}: port {listener.port} on {address[0]} is taken already"
                raise ValueError(msg)
            taken.add(address)
        return self

    def listener_tls(self, listener: HttpsListener) -> tuple[str, str] | None:
        """Return a listener's certificate and key (its own, else the server's)."""
        if listener.certfile and listener.keyfile:
            return listener.certfile, listener.keyfile
        if self.certfile and self.keyfile:
            return self.certfile, self.keyfile
        return None

    @model_validator(mode="after")
    def _check_distributed(self) -> Self:
        """Require a broker for the celery executor."""
        if self.executor == "celery" and not self.broker_url:
            msg = "executor 'celery' needs broker_url (ONWARD_BROKER_URL)"
            raise ValueError(msg)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read arguments, then the environment, then ONWARD_CONFIG_FILE (TOML)."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("ONWARD_CONFIG_FILE")
        if config_file:
            sources.append(
                TomlConfigSettingsSource(settings_cls, toml_file=config_file)
            )
        return tuple(sources)
