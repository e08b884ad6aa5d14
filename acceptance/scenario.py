"""The acceptance scenario, written once against a `Backend`: real CloudFormation + Connect (`acceptance.aws`)
or the local CloudFormation stand-in + the Connect emulator (`acceptance.local`, run by `make test`).

Steps, each checked with DescribePhoneNumber: create, in-place update, a flow change, an update that must
roll back, a replacement (when a second number is given), delete with Restore. Then probes of what only
the real service can settle, each printed as a finding. Whatever happens, `run` tears down what it
created, never releases a number, and moves every number back to the target it found it on.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

PROVIDER_TAG_PREFIX = "PhoneNumberAssignment:"
ProbeFunction = Callable[["Scenario"], str]


@dataclass(frozen=True)
class Resources:
    """What the account provides; the scenario creates nothing in Connect and releases nothing."""

    instance_arn: str
    other_instance_arn: str
    phone_number_id: str
    contact_flow_arn: str  # a flow in other_instance_arn
    traffic_distribution_group_arn: str | None = None
    second_phone_number_id: str | None = None

    @property
    def numbers(self) -> list[str]:
        return [n for n in (self.phone_number_id, self.second_phone_number_id) if n]


@dataclass(frozen=True)
class Outcome:
    """How a stack operation ended: COMPLETE, ROLLED_BACK (update failed, rollback done) or FAILED."""

    state: str
    reason: str = ""


class Backend(Protocol):
    """A provider, a consumer stack with one Custom::PhoneNumberAssignment (logical ID MainLine), Connect."""

    connect: Any  # a boto3 Connect client in the provider's account and Region

    def deploy_provider(self) -> None: ...
    def remove_provider(self) -> None: ...
    def create_consumer(self, properties: dict[str, str]) -> Outcome: ...
    def update_consumer(self, properties: dict[str, str]) -> Outcome: ...
    def delete_consumer(self) -> Outcome: ...
    def consumer_exists(self) -> bool: ...


class StepFailed(AssertionError):
    pass


@dataclass
class Report:
    steps: list[tuple[str, bool, str]] = field(default_factory=list)
    findings: list[tuple[str, str]] = field(default_factory=list)
    restored: dict[str, str] = field(default_factory=dict)  # number -> target it was put back on

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(ok for _, ok, _ in self.steps)


class Scenario:
    def __init__(
        self,
        backend: Backend,
        resources: Resources,
        *,
        out: TextIO,
        move_timeout: float = 600,
        poll_seconds: float = 2,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.connect = backend.connect
        self.resources = resources
        self.out = out
        self.move_timeout = move_timeout
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self.clock = clock
        self.report = Report()
        self.original: dict[str, str] = {}

    # ---- observing Connect ---------------------------------------------------------------------------

    def describe(self, number: str) -> dict[str, Any]:
        return self.connect.describe_phone_number(PhoneNumberId=number)["ClaimedPhoneNumberSummary"]

    def where(self, number: str) -> tuple[str, str]:
        summary = self.describe(number)
        return summary["TargetArn"], summary["PhoneNumberStatus"]["Status"]

    def flow_of(self, number: str, instance_arn: str) -> str | None:
        arn = self.describe(number)["PhoneNumberArn"]
        pages = self.connect.get_paginator("list_flow_associations").paginate(
            InstanceId=instance_arn, ResourceType="VOICE_PHONE_NUMBER"
        )
        for page in pages:
            for association in page.get("FlowAssociationSummaryList", []):
                if association["ResourceId"] == arn:
                    return association["FlowId"]
        return None

    def wait_claimed(self, number: str, target: str) -> None:
        deadline = self.clock() + self.move_timeout
        while True:
            current, status = self.where(number)
            if current == target and status == "CLAIMED":
                return
            if status == "FAILED" or self.clock() > deadline:
                raise StepFailed(f"{number} is {status} on {current}, not CLAIMED on {target}")
            self.sleep(self.poll_seconds)

    def move(self, number: str, target: str, token: str | None = None) -> None:
        """A direct move, outside any stack: for teardown and probes only."""
        if self.where(number) == (target, "CLAIMED"):
            return
        deadline = self.clock() + self.move_timeout
        while True:
            try:
                self.connect.update_phone_number(
                    PhoneNumberId=number, TargetArn=target, ClientToken=token or str(uuid.uuid4())
                )
                break
            except self.connect.exceptions.ResourceInUseException:
                # Another operation (a probe's, the provider's) has not finished: wait for it.
                if self.clock() > deadline:
                    raise
                self.sleep(self.poll_seconds)
        self.wait_claimed(number, target)

    # ---- reporting ---------------------------------------------------------------------------------

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.out.write(f"-- {title}\n")
        self.out.flush()
        started = self.clock()
        try:
            yield
        except Exception as exc:
            self.report.steps.append((title, False, str(exc)))
            self.out.write(f"   FAIL: {exc}\n")
            raise
        self.report.steps.append((title, True, ""))
        self.out.write(f"   ok ({self.clock() - started:.1f} s)\n")

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            raise StepFailed(message)

    def expect_outcome(self, outcome: Outcome, state: str) -> None:
        self.expect(
            outcome.state == state,
            f"stack operation ended {outcome.state}, expected {state}: {outcome.reason}",
        )

    def expect_on(self, number: str, target: str) -> None:
        current, status = self.where(number)
        self.expect(
            (current, status) == (target, "CLAIMED"), f"{number} is {status} on {current}, expected {target}"
        )

    def finding(self, topic: str, text: str) -> None:
        self.report.findings.append((topic, text))
        self.out.write(f"   finding: {topic}: {text}\n")

    # ---- the scenario ------------------------------------------------------------------------------

    def run(self, probes: bool = True) -> Report:
        r = self.resources
        for number in r.numbers:
            self.original[number] = self.where(number)[0]
        self.out.write(
            "Numbers found on: " + ", ".join(f"{n} -> {t}" for n, t in self.original.items()) + "\n"
        )
        try:
            with self.step("deploy the provider"):
                self.backend.deploy_provider()
            self.lifecycle()
            if probes:
                self.probe_all()
        finally:
            self.teardown()
        return self.report

    def lifecycle(self) -> None:
        r = self.resources
        number = r.phone_number_id
        declared = {"PhoneNumberId": number, "TargetArn": r.other_instance_arn, "OnDelete": "Restore"}
        home = self.original[number]
        with self.step("create: the number moves to the other instance"):
            self.expect_outcome(self.backend.create_consumer(declared), "COMPLETE")
            self.expect_on(number, r.other_instance_arn)
        in_place = r.traffic_distribution_group_arn or r.instance_arn
        with self.step(f"in-place update: TargetArn -> {in_place}"):
            self.expect_outcome(self.backend.update_consumer({**declared, "TargetArn": in_place}), "COMPLETE")
            self.expect_on(number, in_place)
        flowing = {**declared, "ContactFlowArn": r.contact_flow_arn}
        with self.step("flow change: back to the other instance with ContactFlowArn"):
            self.expect_outcome(self.backend.update_consumer(flowing), "COMPLETE")
            self.expect_on(number, r.other_instance_arn)
            flow = self.flow_of(number, r.other_instance_arn)
            self.expect(
                flow == r.contact_flow_arn, f"flow association is {flow}, expected {r.contact_flow_arn}"
            )
        missing = r.instance_arn.rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
        with self.step("an update CloudFormation has to roll back (target instance does not exist)"):
            outcome = self.backend.update_consumer({**flowing, "TargetArn": missing, "ContactFlowArn": ""})
            self.expect_outcome(outcome, "ROLLED_BACK")
            self.expect_on(number, r.other_instance_arn)
            flow = self.flow_of(number, r.other_instance_arn)
            self.expect(flow == r.contact_flow_arn, f"after the rollback the flow is {flow}")
        current = flowing
        if r.second_phone_number_id:
            second = r.second_phone_number_id
            with self.step("replacement: another PhoneNumberId; the old number goes home (Restore)"):
                current = {**flowing, "PhoneNumberId": second}
                self.expect_outcome(self.backend.update_consumer(current), "COMPLETE")
                self.expect_on(second, r.other_instance_arn)
                self.expect_on(number, home)
                tags = self.describe(number).get("Tags", {})
                self.expect(
                    not any(k.startswith(PROVIDER_TAG_PREFIX) for k in tags), f"old number kept tags {tags}"
                )
        else:
            self.out.write("-- replacement: skipped (needs a second claimed number)\n")
        kept = current["PhoneNumberId"]
        with self.step("delete with OnDelete Restore: the number goes back where it was"):
            self.expect_outcome(self.backend.delete_consumer(), "COMPLETE")
            self.expect_on(kept, self.original[kept])
            tags = self.describe(kept).get("Tags", {})
            self.expect(not any(k.startswith(PROVIDER_TAG_PREFIX) for k in tags), f"tags left behind: {tags}")

    # ---- probes of the real service -----------------------------------------------------------------

    def probe_all(self) -> None:
        for name, probe in PROBES:
            try:
                self.finding(name, probe(self))
            except Exception as exc:  # noqa: BLE001 - a probe that breaks is a finding, not a failed scenario
                self.finding(name, f"probe could not finish: {type(exc).__name__}: {exc}")

    # ---- teardown ------------------------------------------------------------------------------------

    def teardown(self) -> None:
        """Always: delete the consumer, put every number back, remove the provider. Never release."""
        self.out.write("-- teardown\n")
        for action, what in (
            (self._delete_consumer, "delete the consumer stack"),
            (self._put_numbers_back, "put every number back"),
            (self.backend.remove_provider, "remove the provider"),
        ):
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - keep tearing down; the report says what was left
                self.report.steps.append((f"teardown: {what}", False, str(exc)))
                self.out.write(f"   teardown could not {what}: {exc}\n")

    def _delete_consumer(self) -> None:
        if self.backend.consumer_exists():
            self.backend.delete_consumer()

    def _put_numbers_back(self) -> None:
        for number, target in self.original.items():
            summary = self.describe(number)
            tags = [k for k in summary.get("Tags", {}) if k.startswith(PROVIDER_TAG_PREFIX)]
            if tags:
                self.connect.untag_resource(resourceArn=summary["PhoneNumberArn"], tagKeys=tags)
            self.move(number, target)
            self.report.restored[number] = self.where(number)[0]
            self.out.write(f"   {number} is on {self.report.restored[number]}\n")


# ---- the probes: each returns what it observed ------------------------------------------------------


def probe_flow_after_move(s: Scenario) -> str:
    """Does UpdatePhoneNumber keep, drop or carry over a flow association? (The provider removes it first.)"""
    r = s.resources
    number = r.phone_number_id
    s.move(number, r.other_instance_arn)
    arn = s.describe(number)["PhoneNumberArn"]
    s.connect.associate_phone_number_contact_flow(
        PhoneNumberId=number,
        InstanceId=r.other_instance_arn,
        ContactFlowId=r.contact_flow_arn.rsplit("/", 1)[1],
    )
    s.move(number, r.instance_arn)
    left = s.flow_of(number, r.other_instance_arn)
    moved_back_to = s.flow_of(number, r.instance_arn)
    s.move(number, r.other_instance_arn)
    back = s.flow_of(number, r.other_instance_arn)
    if back:
        s.connect.disassociate_phone_number_contact_flow(
            PhoneNumberId=number, InstanceId=r.other_instance_arn
        )
    return (
        f"after moving {arn} away, the old instance lists flow {left or 'none'}, the new one "
        f"{moved_back_to or 'none'}; after moving it back the association is "
        f"{'still there' if back else 'gone'}"
    )


def probe_tag_visibility(s: Scenario) -> str:
    """How soon DescribePhoneNumber shows a tag just written (the ownership claim assumes about 1 s)."""
    number = s.resources.phone_number_id
    arn = s.describe(number)["PhoneNumberArn"]
    key = f"{PROVIDER_TAG_PREFIX}AcceptanceProbe"
    started = s.clock()
    s.connect.tag_resource(resourceArn=arn, tags={key: "1"})
    reads = 0
    try:
        while s.clock() - started < 30:
            reads += 1
            if key in s.describe(number).get("Tags", {}):
                return f"visible after {s.clock() - started:.2f} s ({reads} DescribePhoneNumber)"
            s.sleep(0.1)
        return f"not visible after 30 s ({reads} reads)"
    finally:
        s.connect.untag_resource(resourceArn=arn, tagKeys=[key])


def probe_update_to_current_target(s: Scenario) -> str:
    """What UpdatePhoneNumber does when the number is already CLAIMED on that target."""
    number = s.resources.phone_number_id
    target, _ = s.where(number)
    try:
        s.connect.update_phone_number(PhoneNumberId=number, TargetArn=target, ClientToken=str(uuid.uuid4()))
    except s.connect.exceptions.ClientError as exc:
        return f"refused: {exc.response['Error']['Code']}: {exc.response['Error'].get('Message', '')}"
    # Right after a request DescribePhoneNumber may still show the old state, so watch for a while.
    statuses = []
    for _ in range(5):
        statuses.append(s.where(number)[1])
        if statuses[-1] == "CLAIMED" and "IN_PROGRESS" in statuses:
            break
        s.sleep(s.poll_seconds)
    s.wait_claimed(number, target)
    return f"accepted; statuses seen: {' -> '.join(dict.fromkeys(statuses))}"


def probe_token_reuse_after_error(s: Scenario) -> str:
    """Can a ClientToken that was used for a rejected request be used again with valid parameters?"""
    r = s.resources
    number = r.phone_number_id
    home, _ = s.where(number)
    other = r.other_instance_arn if home != r.other_instance_arn else r.instance_arn
    missing = r.instance_arn.rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
    token = str(uuid.uuid4())
    try:
        s.connect.update_phone_number(PhoneNumberId=number, TargetArn=missing, ClientToken=token)
        first = "accepted (unexpected)"
    except s.connect.exceptions.ClientError as exc:
        first = exc.response["Error"]["Code"]
    try:
        s.connect.update_phone_number(PhoneNumberId=number, TargetArn=other, ClientToken=token)
        s.wait_claimed(number, other)
        second = "accepted, and the move happened"
    except s.connect.exceptions.ClientError as exc:
        second = f"refused with {exc.response['Error']['Code']}"
    finally:
        s.move(number, home)
    return f"first use with a missing target: {first}; same token, valid target: {second}"


PROBES: list[tuple[str, ProbeFunction]] = [
    ("flow association after a move", probe_flow_after_move),
    ("tag visibility lag", probe_tag_visibility),
    ("update to the current target", probe_update_to_current_target),
    ("token reuse after an error", probe_token_reuse_after_error),
]
