"""
Request and response models of the native API: problems, auth, access and plans.

Run and operation models are in ``run_schemas``. Request models forbid unknown
fields, so a misspelt field is a 422 naming it rather than silently ignored.
"""

from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from onward.api.problems import PROBLEM_MEDIA_TYPE
from onward.domain.access import Credential, Principal, Role, User, Workspace
from onward.errors import LocatedProblem
from onward.service.access import Member
from onward.service.access_keys import IssuedAccessKey
from onward.service.auth import IssuedSecret
from onward.service.plan_switches import CurrentPlan
from onward.service.ports import PlanSummary, PlanVersion

#: the path every native route is under
API_PREFIX: Final = "/api/v1"
#: longest name accepted for users, plans, keys and other named things
NAME_LENGTH: Final = 128
#: the problems any authenticated native route may answer
COMMON_PROBLEMS: Final = (401, 403, 404, 422, 503)


class In(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return OpenAPI response entries of problem+json for the statuses."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}},
        }
        for status in statuses
    }


# -- problems ----------------------------------------------------------------------


class ProblemItem(BaseModel):
    """One problem of the input, located by its path."""

    path: str = Field(description="e.g. `groups[1].steps[0].timeout`; empty: the whole")
    message: str
    in_: str | None = Field(
        None, alias="in", description="body, query, path or header (request fields)"
    )
    line: int | None = Field(None, description="line in the plan text, when known")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str = Field(description="stable short name of the problem type")
    errors: list[ProblemItem] | None = None
    retry_after: int | None = Field(None, description="seconds (429 only)")
    limit: int | None = Field(None, description="bytes: the body limit (413 only)")


# -- auth --------------------------------------------------------------------------


class LoginIn(In):
    """A username and password to sign in with."""

    username: str = Field(min_length=1, max_length=NAME_LENGTH)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    """A session token, shown once."""

    token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name
    expires_at: datetime | None

    @classmethod
    def of(cls, issued: IssuedSecret) -> Self:
        """Render an issued session."""
        return cls(token=issued.secret, expires_at=issued.credential.expires_at)


class MeOut(BaseModel):
    """The signed-in principal and their roles."""

    user_id: str
    username: str
    superuser: bool
    roles: dict[str, Role]
    credential_id: str
    workspace_limit: str | None
    role_limit: Role | None

    @classmethod
    def of(cls, principal: Principal) -> Self:
        """Render a principal."""
        return cls(
            user_id=principal.user_id,
            username=principal.username,
            superuser=principal.superuser,
            roles=dict(principal.roles),
            credential_id=principal.credential_id,
            workspace_limit=principal.workspace_limit,
            role_limit=principal.role_limit,
        )


# -- workspaces, users, members, keys ----------------------------------------------


class WorkspaceIn(In):
    """A new workspace."""

    name: str = Field(min_length=1, max_length=64, examples=["dr-site-b"])
    description: str = Field("", max_length=2000)


class WorkspaceOut(BaseModel):
    """A workspace, with the caller's role in it."""

    name: str
    description: str
    created_at: datetime
    role: Role | None

    @classmethod
    def of(cls, workspace: Workspace, principal: Principal) -> Self:
        """Render a workspace as the principal sees it."""
        return cls(
            name=workspace.name,
            description=workspace.description,
            created_at=workspace.created_at,
            role=principal.role_in(workspace.name),
        )


class WorkspaceListOut(BaseModel):
    """The workspaces the caller has a role in."""

    workspaces: list[WorkspaceOut]


class UserIn(In):
    """A new user; with no password the user signs in with API keys only."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field("", max_length=1024)
    superuser: bool = False


class UserPatchIn(In):
    """Changes to a user; fields left out stay as they are."""

    password: str | None = Field(None, max_length=1024)
    disabled: bool | None = None
    superuser: bool | None = None


class UserOut(BaseModel):
    """A user (never their password)."""

    user_id: str
    username: str
    superuser: bool
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> Self:
        """Render a user."""
        return cls(
            user_id=user.user_id,
            username=user.username,
            superuser=user.superuser,
            disabled=user.disabled,
            created_at=user.created_at,
        )


class UserListOut(BaseModel):
    """Every user."""

    users: list[UserOut]


class MemberIn(In):
    """The role to give a user in the workspace."""

    role: Role


class MemberOut(BaseModel):
    """A user's role in a workspace."""

    workspace: str
    user_id: str
    username: str
    role: Role

    @classmethod
    def of(cls, member: Member) -> Self:
        """Render a member."""
        return cls(
            workspace=member.workspace,
            user_id=member.user_id,
            username=member.username,
            role=member.role,
        )


class MemberListOut(BaseModel):
    """A workspace's members."""

    members: list[MemberOut]


class KeyIn(In):
    """A new key, optionally limited to a workspace, a role and a lifetime."""

    name: str = Field(min_length=1, max_length=NAME_LENGTH)
    workspace: str | None = Field(None, max_length=64)
    role: Role | None = None
    expires_in: int | None = Field(
        None, ge=60, le=10 * 366 * 86400, description="lifetime in seconds"
    )
    user: str | None = Field(
        None,
        max_length=NAME_LENGTH,
        description="superusers: make the key for this user (id or username)",
    )

    def lifetime(self) -> timedelta | None:
        """Return how long the key lasts (None: until revoked)."""
        return None if self.expires_in is None else timedelta(seconds=self.expires_in)


class ApiKeyIn(KeyIn):
    """A new API key, optionally limited to a workspace, a role and a lifetime."""


def _key_fields(credential: Credential) -> dict[str, Any]:
    """Return what API and access keys show of their record, but for the id."""
    return {
        "user_id": credential.user_id,
        "name": credential.name,
        "workspace": credential.workspace,
        "role": credential.role,
        "created_at": credential.created_at,
        "expires_at": credential.expires_at,
        "revoked_at": credential.revoked_at,
    }


class ApiKeyOut(BaseModel):
    """An API key (never its secret)."""

    key_id: str
    user_id: str
    name: str
    workspace: str | None
    role: Role | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, credential: Credential) -> Self:
        """Render a key's record."""
        return cls(key_id=credential.credential_id, **_key_fields(credential))


class ApiKeyCreatedOut(ApiKeyOut):
    """A new API key with its secret, shown this once (null in a replay)."""

    secret: str | None

    @classmethod
    def issued(cls, issued: IssuedSecret) -> Self:
        """Render a new key with its secret."""
        credential = issued.credential
        return cls(
            key_id=credential.credential_id,
            secret=issued.secret,
            **_key_fields(credential),
        )


class ApiKeyListOut(BaseModel):
    """The caller's API keys."""

    api_keys: list[ApiKeyOut]


class AccessKeyIn(KeyIn):
    """A new access key (AK/SK), optionally limited to a workspace, role, lifetime."""


class AccessKeyOut(BaseModel):
    """An access key: its access key id (AK), never its secret key (SK)."""

    access_key_id: str
    user_id: str
    name: str
    workspace: str | None
    role: Role | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, credential: Credential) -> Self:
        """Render an access key's record."""
        return cls(access_key_id=credential.credential_id, **_key_fields(credential))


class AccessKeyCreatedOut(AccessKeyOut):
    """A new access key with its secret key, shown this once (null in a replay)."""

    secret_key: str | None = Field(
        description="the SK: signs requests with the AK; 40 characters"
    )

    @classmethod
    def issued(cls, issued: IssuedAccessKey) -> Self:
        """Render a new access key with its secret key."""
        return cls(
            access_key_id=issued.access_key_id,
            secret_key=issued.secret_key,
            **_key_fields(issued.credential),
        )


class AccessKeyListOut(BaseModel):
    """The caller's access keys."""

    access_keys: list[AccessKeyOut]


# -- plans -------------------------------------------------------------------------


class PlanSourceIn(In):
    """A plan text in JSON, with its format (guessed when left out)."""

    source: str = Field(max_length=10_000_000)
    format: Literal["yaml", "json"] | None = None


#: what ``enabled`` means, wherever a plan shows it
_ENABLED: Final = (
    "false: the plan is disabled and starts no run (manual, triggered or chained) "
    "until POST …/plans/{name}/enable"
)


class PlanSummaryOut(BaseModel):
    """A plan as listed: its latest version, and whether it may start runs."""

    plan_id: str
    name: str
    latest_version: int
    created_at: datetime
    updated_at: datetime
    enabled: bool = Field(description=_ENABLED)

    @classmethod
    def of(cls, plan: PlanSummary) -> Self:
        """Render a listed plan."""
        return cls(
            plan_id=plan.plan_id,
            name=plan.name,
            latest_version=plan.latest_version,
            created_at=plan.created_at,
            updated_at=plan.updated_at,
            enabled=plan.enabled,
        )


class PlanListOut(BaseModel):
    """The workspace's plans by name."""

    plans: list[PlanSummaryOut]


class PlanVersionSummaryOut(BaseModel):
    """One version of a plan, without its text."""

    plan_id: str
    name: str
    version: int
    format: str
    digest: str
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, version: PlanVersion) -> Self:
        """Render a version's summary."""
        return cls(
            plan_id=version.plan_id,
            name=version.name,
            version=version.version,
            format=version.format,
            digest=version.digest,
            created_at=version.created_at,
            created_by=version.created_by,
        )


class PlanVersionOut(PlanVersionSummaryOut):
    """One version of a plan: its text as written and its parsed document."""

    source: str
    document: dict[str, Any]

    @classmethod
    def of(cls, version: PlanVersion) -> Self:
        """Render a version with its text and document."""
        summary = PlanVersionSummaryOut.of(version).model_dump()
        return cls(**summary, source=version.source, document=dict(version.document))


class PlanOut(PlanVersionOut):
    """A plan as it stands: its latest version, and whether it may start runs."""

    enabled: bool = Field(description=_ENABLED)

    @classmethod
    def current(cls, plan: CurrentPlan) -> Self:
        """Render a plan with its latest version."""
        latest = PlanVersionOut.of(plan.latest).model_dump()
        return cls(**latest, enabled=plan.enabled)


class PlanVersionListOut(BaseModel):
    """Every version of a plan, oldest first."""

    versions: list[PlanVersionSummaryOut]


class ValidationOut(BaseModel):
    """Whether a plan text is valid, and every problem found, with its line."""

    valid: bool
    problems: list[ProblemItem]

    @classmethod
    def of(cls, problems: list[LocatedProblem]) -> Self:
        """Render the problems of a plan text."""
        return cls(
            valid=not problems,
            problems=[
                ProblemItem(path=p.path, message=p.message, line=p.line)
                for p in problems
            ],
        )
