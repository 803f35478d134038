"""
Data objects: posting one under a data class starts the runs of matching event triggers.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel

from onward.api.body_limit import LimitedRoute
from onward.api.deps import Operator, Reader, ServicesDep
from onward.api.idempotency import Idem, Reply
from onward.api.native.schemas import COMMON_PROBLEMS, NAME_LENGTH, problem_responses
from onward.domain.triggers import DataObject
from onward.service.commands import Caller

router = APIRouter(
    tags=["data objects"],
    responses=problem_responses(*COMMON_PROBLEMS),
    route_class=LimitedRoute,
)

_OBJECTS = "/workspaces/{workspace}/dataclasses/{dataclass}/objects"
DataClass = Annotated[
    str, Path(min_length=1, max_length=NAME_LENGTH, pattern=r"^[A-Za-z0-9][\w.-]*$")
]


class DataObjectOut(BaseModel):
    """A posted data object."""

    id: str
    dataclass: str
    content: dict[str, Any]
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, found: DataObject) -> "DataObjectOut":
        """Render a data object."""
        return cls(
            id=found.object_id,
            dataclass=found.dataclass,
            content=dict(found.content),
            created_at=found.created_at,
            created_by=found.created_by,
        )


class PostedOut(BaseModel):
    """A stored data object and the runs its event triggers started."""

    object: DataObjectOut
    run_ids: list[str]


class DataObjectListOut(BaseModel):
    """Data objects, newest first."""

    objects: list[DataObjectOut]


@router.post(
    _OBJECTS,
    status_code=201,
    response_model=PostedOut,
    responses=problem_responses(400, 422),
)
async def post_data_object(
    dataclass: DataClass,
    content: Annotated[dict[str, Any], Body(description="the data object (JSON)")],
    scope: Operator,
    idem: Idem,
    services: ServicesDep,
) -> Response:
    """Store a data object; every event trigger it matches starts a run."""

    async def act(caller: Caller) -> Reply:
        stored, runs = await services.runtime.triggers.post_event(
            workspace=scope.workspace,
            dataclass=dataclass,
            content=content,
            actor=caller.actor,
        )
        body = PostedOut(
            object=DataObjectOut.of(stored), run_ids=[run.run_id for run in runs]
        )
        return Reply(status=201, body=body)

    return await idem.run(act)


@router.get(_OBJECTS, response_model=DataObjectListOut)
async def list_data_objects(
    dataclass: DataClass,
    scope: Reader,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DataObjectListOut:
    """List the data objects of a data class, newest first."""
    found = await services.runtime.store.list_data_objects(
        workspace=scope.workspace, dataclass=dataclass, limit=limit
    )
    return DataObjectListOut(objects=[DataObjectOut.of(o) for o in found])
