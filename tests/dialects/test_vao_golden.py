"""The VAO v3 dialect's representations, to the letter, in JSON and in XML."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import httpx
import pytest
from dialect_support import PLAN, SEED_PLAN, apply_as, settle

from onward.runtime import Runtime

#: uuid5(plan, "databases"), uuid5(plan, "web")
DATABASES: Final = "65aadac9-f12d-570d-82da-f51769298132"
WEB: Final = "da249353-297e-5333-ad11-ae8636e93d0a"
#: uuid5(plan, group, "targets", name) of db1 and db2
DB1: Final = "895b34b3-9d69-5bef-b154-477a4d2083a2"
DB2: Final = "38019452-81fe-5992-805d-f0bcbf6fdaeb"
#: uuid5(plan, group, "steps", name) of the databases group's steps
STOP: Final = "da98f95f-d5c2-5c93-9566-e873da235d6c"
VERIFY: Final = "cdb4123b-773b-50c0-9300-2d51516ca8b6"
GROUP: Final = f"{PLAN}/Groups/{DATABASES}"
XML_HEAD: Final = '<?xml version="1.0" encoding="utf-8"?>'
NIL_NS: Final = 'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"'

TWO_GROUPS: Final = """
name: web
description: the web tier
groups:
  - name: databases
    parallel: 2
    targets: [db1, db2]
    steps:
      - {name: stop replication, action: noop, timeout: 5m, retry: {attempts: 3}}
      - {name: verify, action: noop, critical: false}
  - name: web
    targets: [www]
    steps: [{name: start, action: noop}]
"""

PLAN_INFO: Final = {
    "id": SEED_PLAN,
    "name": "web",
    "description": "the web tier",
    "planType": "Restore",
    "enabled": True,
    "state": "Ready",
    "stateName": "READY",
    "resultName": "",
    "lastRunTime": None,
    "groupsCount": 2,
    "vmsCount": 3,
    "_links": {"self": {"href": PLAN}},
}
PLAN_INFO_XML: Final = (
    f"{XML_HEAD}<RecoveryPlanInfo {NIL_NS}><id>{SEED_PLAN}</id><name>web</name>"
    "<description>the web tier</description><planType>Restore</planType>"
    "<enabled>true</enabled><state>Ready</state><stateName>READY</stateName>"
    '<resultName /><lastRunTime i:nil="true" /><groupsCount>2</groupsCount>'
    f"<vmsCount>3</vmsCount><_links><self><href>{PLAN}</href></self></_links>"
    "</RecoveryPlanInfo>"
)
GROUPS_PAGE: Final = {
    "data": [
        {
            "id": DATABASES,
            "name": "databases",
            "planId": SEED_PLAN,
            "vmsCount": 2,
            "stepsCount": 2,
            "maxParallelVms": 2,
            "_links": {"self": {"href": GROUP}},
        },
        {
            "id": WEB,
            "name": "web",
            "planId": SEED_PLAN,
            "vmsCount": 1,
            "stepsCount": 1,
            "maxParallelVms": 1,
            "_links": {"self": {"href": f"{PLAN}/Groups/{WEB}"}},
        },
    ],
    "pagination": {"total": 2, "count": 2, "start": 0, "limit": 2},
}
GROUPS_PAGE_XML: Final = (
    f"{XML_HEAD}<RecoveryGroupInfoPage {NIL_NS}><data>"
    f"<RecoveryGroupInfo><id>{DATABASES}</id><name>databases</name>"
    f"<planId>{SEED_PLAN}</planId><vmsCount>2</vmsCount><stepsCount>2</stepsCount>"
    "<maxParallelVms>2</maxParallelVms>"
    f"<_links><self><href>{GROUP}</href></self></_links></RecoveryGroupInfo>"
    f"<RecoveryGroupInfo><id>{WEB}</id><name>web</name><planId>{SEED_PLAN}</planId>"
    "<vmsCount>1</vmsCount><stepsCount>1</stepsCount><maxParallelVms>1</maxParallelVms>"
    f"<_links><self><href>{PLAN}/Groups/{WEB}</href></self></_links>"
    "</RecoveryGroupInfo></data><pagination><total>2</total><count>2</count>"
    "<start>0</start><limit>2</limit></pagination></RecoveryGroupInfoPage>"
)
VMS_PAGE: Final = {
    "data": [
        {"id": DB1, "name": "db1", "groupId": DATABASES, "planId": SEED_PLAN},
        {"id": DB2, "name": "db2", "groupId": DATABASES, "planId": SEED_PLAN},
    ],
    "pagination": {"total": 2, "count": 2, "start": 0, "limit": 2},
}
VMS_PAGE_XML: Final = (
    f"{XML_HEAD}<RecoveryVmInfoPage {NIL_NS}><data>"
    f"<RecoveryVmInfo><id>{DB1}</id><name>db1</name><groupId>{DATABASES}</groupId>"
    f"<planId>{SEED_PLAN}</planId></RecoveryVmInfo>"
    f"<RecoveryVmInfo><id>{DB2}</id><name>db2</name><groupId>{DATABASES}</groupId>"
    f"<planId>{SEED_PLAN}</planId></RecoveryVmInfo></data>"
    "<pagination><total>2</total><count>2</count><start>0</start><limit>2</limit>"
    "</pagination></RecoveryVmInfoPage>"
)
STEPS: Final = [
    {
        "id": STOP,
        "name": "stop replication",
        "type": "noop",
        "critical": True,
        "timeout": 300,
        "retries": 2,
        "groupId": DATABASES,
    },
    {
        "id": VERIFY,
        "name": "verify",
        "type": "noop",
        "critical": False,
        "timeout": None,
        "retries": 0,
        "groupId": DATABASES,
    },
]
STEPS_PAGE: Final = {
    "data": STEPS,
    "pagination": {"total": 2, "count": 2, "start": 0, "limit": 2},
}
STEPS_PAGE_XML: Final = (
    f"{XML_HEAD}<RecoveryStepInfoPage {NIL_NS}><data>"
    f"<RecoveryStepInfo><id>{STOP}</id><name>stop replication</name><type>noop</type>"
    "<critical>true</critical><timeout>300</timeout><retries>2</retries>"
    f"<groupId>{DATABASES}</groupId></RecoveryStepInfo>"
    f"<RecoveryStepInfo><id>{VERIFY}</id><name>verify</name><type>noop</type>"
    '<critical>false</critical><timeout i:nil="true" /><retries>0</retries>'
    f"<groupId>{DATABASES}</groupId></RecoveryStepInfo></data>"
    "<pagination><total>2</total><count>2</count><start>0</start><limit>2</limit>"
    "</pagination></RecoveryStepInfoPage>"
)


@pytest.fixture(autouse=True)
async def _two_groups(runtime: Runtime) -> None:
    """Store the plan of two groups under the seed plan's id, for every test here."""
    await apply_as(runtime, TWO_GROUPS, SEED_PLAN)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (PLAN, PLAN_INFO),
        (f"{PLAN}/Groups", GROUPS_PAGE),
        (f"{GROUP}/Vms", VMS_PAGE),
        (f"{GROUP}/Steps", STEPS_PAGE),
    ],
    ids=["plan", "groups", "vms", "steps"],
)
async def test_each_representation_is_golden_in_json(
    vao: httpx.AsyncClient, ann: dict[str, str], path: str, body: dict[str, Any]
) -> None:
    """Every key and value of a plan, its groups, a group's VMs and its steps."""
    answer = await vao.get(path, headers=ann)

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    assert answer.json() == body


@pytest.mark.parametrize(
    ("path", "document"),
    [
        (PLAN, PLAN_INFO_XML),
        (f"{PLAN}/Groups", GROUPS_PAGE_XML),
        (f"{GROUP}/Vms", VMS_PAGE_XML),
        (f"{GROUP}/Steps", STEPS_PAGE_XML),
    ],
    ids=["plan", "groups", "vms", "steps"],
)
async def test_each_representation_is_golden_in_xml(
    vao: httpx.AsyncClient, ann: dict[str, str], path: str, document: str
) -> None:
    """The same facts as elements, byte for byte."""
    answer = await vao.get(path, headers={**ann, "Accept": "application/xml"})

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/xml; charset=utf-8"
    assert answer.text == document


@pytest.mark.parametrize(
    "path",
    [f"{GROUP}/Vms/{DB2}/Steps", f"{PLAN}/Vms/{DB2}/Steps"],
    ids=["long", "short"],
)
async def test_a_vms_steps_are_the_groups_steps_with_its_id(
    vao: httpx.AsyncClient, ann: dict[str, str], path: str
) -> None:
    """Both spellings of a VM's steps: the group's steps, each with the VM's id."""
    answer = await vao.get(path, headers=ann)

    assert answer.json() == {
        "data": [{**step, "vmId": DB2} for step in STEPS],
        "pagination": {"total": 2, "count": 2, "start": 0, "limit": 2},
    }


async def test_a_plan_that_ran_keeps_its_keys_and_tells_when(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """After a Restore: the same keys, RESTORE / Success, an aware lastRunTime."""
    await vao.post(f"{PLAN}/Restore", headers=ann)
    await settle(runtime)

    body = (await vao.get(PLAN, headers=ann)).json()

    assert set(body) == set(PLAN_INFO)
    when = datetime.fromisoformat(body.pop("lastRunTime"))
    assert when.tzinfo is not None
    assert body == {
        **{k: v for k, v in PLAN_INFO.items() if k != "lastRunTime"},
        "state": "Restore",
        "stateName": "RESTORE",
        "resultName": "Success",
    }
