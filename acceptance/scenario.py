"""The acceptance scenario, written once against a `Backend`: real CloudFormation + Connect (`acceptance.aws`)
or the local CloudFormation stand-in + the Connect emulator (`acceptance.local`, run by `make test`).

Steps, each checked with DescribePhoneNumber: create, in-place update, a flow change, an update that must
roll back, a replacement (when a second number is given), delete with Restore. Then probes of what only
the real service can settle, each a row of docs/reliability.md's "Assumptions about the real service".

Safe by construction:
- before anything, every number must be CLAIMED on ACCEPTANCE_INSTANCE_ARN, carry no provider tag, no
  CloudFormation system tag and no ownership record of another stack; otherwise nothing is done at all;
- each number's target *and* flow association are recorded, and teardown puts both back;
- teardown waits for a stack operation in flight before it touches anything, cannot be interrupted by a
  second Ctrl-C, removes only the tags and ownership records its own consumer stack wrote, never releases a
  number, and removes the provider only once the consumer stack is gone;
- whatever fails, the report carries the summary, the findings and the exact commands for what is left.
"""

from __future__ import annotations

import functools
import itertools
import json
import shlex
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from botocore.exceptions import ClientError

PROVIDER_TAG_PREFIX = "PhoneNumberAssignment:"
STACK_ID_TAG = f"{PROVIDER_TAG_PREFIX}StackId"
CLOUDFORMATION_TAG_PREFIX = "aws:cloudformation:"
OWNERSHIP_TABLE = "PhoneNumberAssignment-Ownership"  # the provider's record (schema version 1)
# Record states in which nobody holds the number (records.State; CANCELLED is from earlier versions).
NOBODY = frozenset({"RELEASED", "CANCELLED"})
PROBE_TAG = "pna-acceptance-probe"  # not a provider key: a probe never looks like ownership
MISSING_INSTANCE_ID = "00000000-0000-4000-8000-000000000000"
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


def resource_id(arn: str) -> str:
    """The ID at the end of a Connect ARN (instance/ID, .../contact-flow/ID): what ID-only parameters take."""
    return arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Outcome:
    """How a stack operation ended: COMPLETE, ROLLED_BACK (update failed, rollback done) or FAILED."""

    state: str
    reason: str = ""


class Backend(Protocol):
    """A provider, a consumer stack with one Custom::PhoneNumberAssignment (logical ID MainLine), Connect."""

    connect: Any  # a boto3 Connect client in the provider's account and Region
    cloudformation: Any  # a CloudFormation client there (read-only for the probes), or None
    observer: (
        Any  # a second Connect client (another connection), for what a reader other than the writer sees
    )
    dynamodb: Any  # a DynamoDB client there (the ownership table), or None
    service_quotas: Any  # a Service Quotas client there, or None
    region: str

    @property
    def consumer_stack_id(self) -> str | None: ...
    def deploy_provider(self) -> None: ...
    def remove_provider(self) -> None: ...
    def create_consumer(self, properties: dict[str, str]) -> Outcome: ...
    def update_consumer(self, properties: dict[str, str]) -> Outcome: ...
    def delete_consumer(self) -> Outcome: ...
    def consumer_exists(self) -> bool: ...
    def settle_consumer(self) -> str | None: ...  # waits out an operation in flight; the status then
    def cleanup_commands(self) -> list[str]: ...  # what would remove the stacks this backend left
    def connect_in(self, region: str) -> Any: ...  # a Connect client in another Region (read-only use)
    # A stack of no number created with OnFailure=DELETE and made to fail; its stack ID once it is deleted
    # (None: not possible here).
    def fail_a_creation(self) -> str | None: ...


class StepFailed(AssertionError):
    pass


class Refused(StepFailed):
    """The variables point at something the run must not touch: nothing was changed."""


class OwnedElsewhere(StepFailed):
    """Another stack took the number during the run: it is that stack's now, and left as it is."""


@dataclass
class Original:
    target: str
    flow_id: str | None  # the flow associated in the target instance, if any


@dataclass
class MoveTrace:
    """What DescribePhoneNumber showed after one UpdatePhoneNumber the run itself sent (the provider's own
    moves run in its Lambda function, out of sight): each read as (seconds after the call was accepted,
    TargetArn, status, message), until the move's outcome showed."""

    number: str
    source: str  # the target Describe last showed before the call
    target: str
    failed_before: str | None  # the message of a FAILED Describe showed before the call, if any
    sent: float
    reads: list[tuple[float, str, str, str]] = field(default_factory=list)
    outcome: tuple[float, str, str, str] | None = None  # the read that showed CLAIMED on target, or FAILED

    @property
    def same_target(self) -> bool:
        return self.source == self.target

    def ends_with(self, target: str, status: str, message: str) -> bool:
        # An earlier FAILED (same message) still showing is lag, not this move's outcome.
        return (target, status) == (self.target, "CLAIMED") or (
            status == "FAILED" and message != self.failed_before
        )


@dataclass
class Report:
    steps: list[tuple[str, bool, str]] = field(default_factory=list)
    findings: list[tuple[str, str]] = field(default_factory=list)
    restored: dict[str, str] = field(default_factory=dict)  # number -> target it was put back on
    left_behind: list[str] = field(default_factory=list)  # commands that would clean up what is left
    interrupted: bool = False

    @property
    def passed(self) -> bool:
        return (
            bool(self.steps)
            and all(ok for _, ok, _ in self.steps)
            and not self.left_behind
            and not self.interrupted
        )

    def findings_table(self) -> str:
        """Markdown, to paste into an issue: one row per probe (docs/reliability.md's assumption rows)."""
        rows = ["| Assumption probed | What this account's Connect did |", "| --- | --- |"]
        # One line per row: an answer's message may span lines (an HTML error page).
        rows += [f"| {topic} | {' '.join(text.replace('|', '/').split())} |" for topic, text in self.findings]
        return "\n".join(rows)

    def summary(self) -> str:
        lines = [
            f"  {'ok  ' if ok else 'FAIL'} {title}" + (f": {detail}" if detail else "")
            for title, ok, detail in self.steps
        ]
        return "\n".join(lines)


class Scenario:
    def __init__(
        self,
        backend: Backend,
        resources: Resources,
        *,
        out: TextIO,
        move_timeout: float = 600,
        poll_seconds: float = 2,
        quota_pace: float = 0.6,
        tag_trials: int = 20,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.connect = backend.connect
        self.resources = resources
        self.out = out
        self.move_timeout = move_timeout
        self.poll_seconds = poll_seconds
        self.quota_pace = quota_pace  # under 2 requests/s, Connect's default rate for these operations
        self.tag_trials = tag_trials
        self.sleep = sleep
        self.clock = clock
        self.report = Report()
        self.original: dict[str, Original] = {}
        self.arns: dict[str, str] = {}
        self.failed_moves: list[str] = []
        self.moves: list[MoveTrace] = []  # every UpdatePhoneNumber the run sent that Connect accepted
        self._last_seen: dict[str, dict[str, Any]] = {}  # number -> the last summary Describe showed

    # ---- observing Connect ---------------------------------------------------------------------------

    def describe(self, number: str, client: Any = None) -> dict[str, Any]:
        summary = (client or self.connect).describe_phone_number(PhoneNumberId=number)[
            "ClaimedPhoneNumberSummary"
        ]
        self._observe(number, summary)
        return summary

    def _observe(self, number: str, summary: dict[str, Any]) -> None:
        """Every read after a move the run sent joins that move's trace, whoever polls (a probe, a wait)."""
        self._last_seen[number] = summary
        trace = next((m for m in reversed(self.moves) if m.number == number), None)
        if trace is None or trace.outcome is not None:
            return
        status = summary["PhoneNumberStatus"]
        read = (self.clock() - trace.sent, summary["TargetArn"], status["Status"], status.get("Message", ""))
        trace.reads.append(read)
        if trace.ends_with(*read[1:]):
            trace.outcome = read

    def update_phone_number(self, number: str, target: str, token: str | None = None) -> None:
        """UpdatePhoneNumber; once Connect accepts it, the reads that follow are traced (``self.moves``).
        A refused call raises as boto3 does and traces nothing: nothing moved."""
        before = self._last_seen.get(number) or self.describe(number)
        self.connect.update_phone_number(
            PhoneNumberId=number, TargetArn=target, ClientToken=token or str(uuid.uuid4())
        )
        status = before["PhoneNumberStatus"]
        failed = status.get("Message", "") if status["Status"] == "FAILED" else None
        self.moves.append(MoveTrace(number, before["TargetArn"], target, failed, self.clock()))

    def where(self, number: str) -> tuple[str, str]:
        summary = self.describe(number)
        status = summary["PhoneNumberStatus"]["Status"]
        if status == "FAILED":
            self._note_failed(number, summary)
        return summary["TargetArn"], status

    def flow_of(self, number: str, instance_arn: str) -> str | None:
        """The flow ID associated with the number in that instance (ListFlowAssociations takes the ID)."""
        arn = self.arns.get(number) or self.describe(number)["PhoneNumberArn"]
        pages = self.connect.get_paginator("list_flow_associations").paginate(
            InstanceId=resource_id(instance_arn), ResourceType="VOICE_PHONE_NUMBER"
        )
        for page in pages:
            for association in page.get("FlowAssociationSummaryList", []):
                # Which form Connect answers in is not documented (the forms probe reports it): either.
                if association["ResourceId"] in (arn, resource_id(arn)):
                    return resource_id(association["FlowId"])
        return None

    def wait_claimed(self, number: str, target: str, *, since_failed: str | None = None) -> None:
        """Until the number is CLAIMED on target. A FAILED status counts only if it is not the one seen
        before this move began (``since_failed``, its message): an earlier move's FAILED persists until the
        next move ends, and DescribePhoneNumber may still show it right after UpdatePhoneNumber."""
        deadline = self.clock() + self.move_timeout
        while True:
            summary = self.describe(number)
            current, status = summary["TargetArn"], summary["PhoneNumberStatus"]["Status"]
            if current == target and status == "CLAIMED":
                return
            if status == "FAILED" and summary["PhoneNumberStatus"].get("Message") != since_failed:
                self._note_failed(number, summary)
                raise StepFailed(
                    f"{number} is FAILED on {current}: {summary['PhoneNumberStatus'].get('Message')}"
                )
            if self.clock() > deadline:
                raise StepFailed(f"{number} is {status} on {current}, not CLAIMED on {target}")
            self.sleep(self.poll_seconds)

    def move(self, number: str, target: str, token: str | None = None) -> None:
        """A direct move, outside any stack: for teardown and probes only."""
        summary = self.describe(number)
        if (summary["TargetArn"], summary["PhoneNumberStatus"]["Status"]) == (target, "CLAIMED"):
            return
        failed_before = (
            summary["PhoneNumberStatus"].get("Message")
            if summary["PhoneNumberStatus"]["Status"] == "FAILED"
            else None
        )
        deadline = self.clock() + self.move_timeout
        while True:
            try:
                self.update_phone_number(number, target, token)
                break
            except self.connect.exceptions.ResourceInUseException:
                # Another operation (a probe's, the provider's) has not finished: wait for it.
                if self.clock() > deadline:
                    raise
                self.sleep(self.poll_seconds)
        self.wait_claimed(number, target, since_failed=failed_before)

    def _note_failed(self, number: str, summary: dict[str, Any]) -> None:
        note = f"{number} FAILED on {summary['TargetArn']}: {summary['PhoneNumberStatus'].get('Message', '')}"
        trace = next((m for m in reversed(self.moves) if m.number == number), None)
        if trace is not None and trace.outcome is not None and trace.outcome[2] == "FAILED":
            note += f" (the move was from {trace.source} to {trace.target})"
        if note not in self.failed_moves:
            self.failed_moves.append(note)

    # ---- reporting ---------------------------------------------------------------------------------

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.out.write(f"-- {title}\n")
        self.out.flush()
        started = self.clock()
        try:
            yield
        except BaseException as exc:
            self.report.steps.append((title, False, str(exc) or type(exc).__name__))
            self.out.write(f"   FAIL: {type(exc).__name__}: {exc}\n")
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
        """Never raises but for a Ctrl-C in the preflight (nothing changed yet): the report has the rest."""
        try:
            with self.step("preflight: the numbers are where the variables say, and nobody owns them"):
                self.preflight()
        except Exception:  # noqa: BLE001 - nothing was changed: report it and stop
            return self.report
        try:
            with self.step("deploy the provider"):
                self.backend.deploy_provider()
            self.lifecycle()
            if probes:
                self.probe_all()
        except KeyboardInterrupt:
            self.report.interrupted = True
            self.out.write("   interrupted: tearing down (a second Ctrl-C does not stop the teardown)\n")
        except Exception as exc:  # noqa: BLE001 - teardown and the report follow
            if not self.report.steps or self.report.steps[-1][1]:  # raised outside any step: record it
                self.report.steps.append(("run", False, f"{type(exc).__name__}: {exc}"))
        finally:
            self.teardown()
        return self.report

    def preflight(self) -> None:
        r = self.resources
        problems = []
        if not r.contact_flow_arn.startswith(r.other_instance_arn + "/contact-flow/"):
            problems.append(
                f"ACCEPTANCE_CONTACT_FLOW_ARN {r.contact_flow_arn} is not a flow of the other instance"
            )
        for number in r.numbers:
            summary = self.describe(number)
            self.arns[number] = summary["PhoneNumberArn"]
            target, status = summary["TargetArn"], summary["PhoneNumberStatus"]["Status"]
            tags = summary.get("Tags", {})
            owned = sorted(k for k in tags if k.startswith((PROVIDER_TAG_PREFIX, CLOUDFORMATION_TAG_PREFIX)))
            if target != r.instance_arn or status not in ("CLAIMED", "FAILED"):
                problems.append(
                    f"{number} is {status} on {target}, not on ACCEPTANCE_INSTANCE_ARN {r.instance_arn}"
                )
            if owned:
                problems.append(
                    f"{number} is tagged as owned by a stack ({', '.join(owned)}): choose a free number"
                )
            record = self.ownership_record(summary["PhoneNumberArn"])
            if record and record.get("State") not in NOBODY:
                problems.append(
                    f"{number} has an ownership record in {OWNERSHIP_TABLE} "
                    f"(stack {record.get('StackId')}, {record.get('State')}): choose a free number"
                )
            if not problems:
                self.original[number] = Original(target, self.flow_of(number, target))
        if problems:
            self.original.clear()
            raise Refused("nothing was changed: " + "; ".join(problems))
        self.out.write(
            "Numbers found on: "
            + ", ".join(f"{n} -> {o.target} (flow {o.flow_id or 'none'})" for n, o in self.original.items())
            + "\n"
        )

    def ownership_record(self, number_arn: str) -> dict[str, Any] | None:
        """The provider's ownership item for the number (read-only), or None if none or no table."""
        if self.backend.dynamodb is None:
            return None
        try:
            item = self.backend.dynamodb.get_item(
                TableName=OWNERSHIP_TABLE, Key={"PhoneNumberArn": {"S": number_arn}}, ConsistentRead=True
            ).get("Item")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":  # no table: no record
                return None
            raise
        if not item:
            return None
        return {key: next(iter(value.values())) for key, value in item.items()}

    def lifecycle(self) -> None:
        r = self.resources
        number = r.phone_number_id
        declared = {"PhoneNumberId": number, "TargetArn": r.other_instance_arn, "OnDelete": "Restore"}
        home = self.original[number].target
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
            wanted = resource_id(r.contact_flow_arn)
            self.expect(flow == wanted, f"flow association is {flow}, expected {wanted}")
        missing = r.instance_arn.rsplit("/", 1)[0] + "/" + MISSING_INSTANCE_ID
        with self.step("an update CloudFormation has to roll back (target instance does not exist)"):
            outcome = self.backend.update_consumer({**flowing, "TargetArn": missing, "ContactFlowArn": ""})
            self.expect_outcome(outcome, "ROLLED_BACK")
            self.expect_on(number, r.other_instance_arn)
            flow = self.flow_of(number, r.other_instance_arn)
            self.expect(flow == resource_id(r.contact_flow_arn), f"after the rollback the flow is {flow}")
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
            self.expect_on(kept, self.original[kept].target)
            tags = self.describe(kept).get("Tags", {})
            self.expect(not any(k.startswith(PROVIDER_TAG_PREFIX) for k in tags), f"tags left behind: {tags}")

    # ---- probes of the real service -----------------------------------------------------------------

    def probe_all(self) -> None:
        for name, probe in PROBES:
            try:
                self.finding(name, probe(self))
            except Exception as exc:  # noqa: BLE001 - a probe that breaks is a finding, not a failed scenario
                self.finding(name, f"probe could not finish: {type(exc).__name__}: {exc}")
        self.finding(
            FAILED_PERSISTENCE,
            "; ".join(self.failed_moves)
            if self.failed_moves
            else "no move ended FAILED during this run (unprobed)",
        )

    # ---- teardown ------------------------------------------------------------------------------------

    def teardown(self) -> None:
        """Wait out any stack operation, delete the consumer, put every number back (target and flow),
        remove the provider only when the consumer is gone. Never release. A second Ctrl-C is ignored."""
        self.out.write("-- teardown\n")
        with _ignoring_sigint(self.out):
            consumer_gone = self._teardown_step("delete the consumer stack", self._delete_consumer)
            if consumer_gone:
                self._teardown_step("put every number back", self._put_numbers_back)
                self._teardown_step("check the ownership table", self._check_ownership_records)
                self._teardown_step("remove the provider", self.backend.remove_provider)
            else:
                self.out.write(
                    "   the consumer stack is still there: the numbers stay as it left them and the provider"
                    " stays (the stack's next delete or rollback needs it)\n"
                )
            self.report.left_behind.extend(self.backend.cleanup_commands())
        if self.report.left_behind:
            self.out.write("   left behind; these commands clean it up:\n")
            for command in self.report.left_behind:
                self.out.write(f"     {command}\n")

    def _teardown_step(self, what: str, action: Callable[[], Any]) -> bool:
        try:
            result = action()
        except Exception as exc:  # noqa: BLE001 - keep tearing down; the report says what was left
            self.report.steps.append((f"teardown: {what}", False, str(exc)))
            self.out.write(f"   teardown could not {what}: {exc}\n")
            return False
        return result is not False

    def _delete_consumer(self) -> bool:
        self.backend.settle_consumer()  # never act while CloudFormation (and the provider) acts
        if self.backend.consumer_exists():
            outcome = self.backend.delete_consumer()
            if outcome.state != "COMPLETE":
                self.report.steps.append(("teardown: delete the consumer stack", False, outcome.reason))
                self.out.write(f"   the consumer stack could not be deleted: {outcome.reason}\n")
        return not self.backend.consumer_exists()

    def _put_numbers_back(self) -> None:
        region = self.backend.region
        problems = []
        for number, original in self.original.items():
            try:
                self._put_back(number, original)
                self.report.restored[number] = self.where(number)[0]
                self.out.write(f"   {number} is on {self.report.restored[number]}\n")
            except OwnedElsewhere as exc:  # no command either: moving it would take it from that stack
                problems.append(f"{number}: {exc}")
            except Exception as exc:  # noqa: BLE001 - try the next number; say how to finish this one
                problems.append(f"{number}: {exc}")
                self.report.left_behind.extend(
                    put_back_commands(region, number, self.arns.get(number, number), original)
                )
        if problems:
            raise StepFailed("; ".join(problems))

    def _put_back(self, number: str, original: Original) -> None:
        summary = self.describe(number)
        stack_id = self.backend.consumer_stack_id
        tags = summary.get("Tags", {})
        record = self.ownership_record(summary["PhoneNumberArn"])
        if record and record.get("StackId") != stack_id and record.get("State") not in NOBODY:
            raise OwnedElsewhere(f"owned by stack {record.get('StackId')} ({OWNERSHIP_TABLE}): left as it is")
        if stack_id and tags.get(STACK_ID_TAG) == stack_id:
            # Only what this run's consumer stack wrote; another stack's tags are its ownership record.
            mine = [k for k in tags if k.startswith(PROVIDER_TAG_PREFIX)]
            self.connect.untag_resource(resourceArn=summary["PhoneNumberArn"], tagKeys=mine)
        elif any(k.startswith((PROVIDER_TAG_PREFIX, CLOUDFORMATION_TAG_PREFIX)) for k in tags):
            raise OwnedElsewhere(
                f"tagged by another stack ({tags.get(STACK_ID_TAG, 'CloudFormation')}): left as it is"
            )
        self.move(number, original.target)
        instance = original.target
        now = self.flow_of(number, instance)
        if original.flow_id and now != original.flow_id:
            self.connect.associate_phone_number_contact_flow(
                PhoneNumberId=summary["PhoneNumberArn"],
                InstanceId=resource_id(instance),
                ContactFlowId=original.flow_id,
            )
        elif not original.flow_id and now:
            self.connect.disassociate_phone_number_contact_flow(
                PhoneNumberId=summary["PhoneNumberArn"], InstanceId=resource_id(instance)
            )

    def _check_ownership_records(self) -> None:
        """Read-only: the consumer stack's Delete should have released its records (they are kept, RELEASED:
        a record is never deleted). Other stacks' records are never touched; one of ours still held is
        reported with the command that would remove it."""
        stack_id = self.backend.consumer_stack_id
        if not stack_id:
            return
        left = []
        for number in self.original:
            arn = self.arns.get(number, number)
            record = self.ownership_record(arn)
            if record and record.get("StackId") == stack_id and record.get("State") not in NOBODY:
                left.append(arn)
                self.report.left_behind.append(ownership_delete_command(self.backend.region, arn, stack_id))
        if left:
            raise StepFailed(f"{OWNERSHIP_TABLE} still holds records of {stack_id}: {', '.join(left)}")


@contextmanager
def _ignoring_sigint(out: TextIO) -> Iterator[None]:
    """Ctrl-C during teardown is noted and ignored: an interrupted teardown is what leaves things behind."""
    try:
        previous = signal.signal(signal.SIGINT, lambda *_: out.write("   (Ctrl-C ignored: tearing down)\n"))
    except ValueError:  # not the main thread (tests): nothing to guard
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def put_back_commands(region: str, number: str, number_arn: str, original: Original) -> list[str]:
    commands = [
        _aws(
            "connect",
            "update-phone-number",
            region,
            "--phone-number-id",
            number,
            "--target-arn",
            original.target,
        ),
    ]
    if original.flow_id:
        commands.append(
            _aws(
                "connect", "associate-phone-number-contact-flow", region, "--phone-number-id", number_arn,
                "--instance-id", resource_id(original.target), "--contact-flow-id", original.flow_id,
            )
        )  # fmt: skip
    return commands


def ownership_delete_command(region: str, number_arn: str, stack_id: str) -> str:
    return _aws(
        "dynamodb", "delete-item", region, "--table-name", OWNERSHIP_TABLE,
        "--key", json.dumps({"PhoneNumberArn": {"S": number_arn}}),
        "--condition-expression", "StackId = :stack",
        "--expression-attribute-values", json.dumps({":stack": {"S": stack_id}}),
    )  # fmt: skip


def _aws(service: str, command: str, region: str, *args: str) -> str:
    return shlex.join(["aws", service, command, "--region", region, *args])


# ---- the probes: each returns what it observed; each is a row of docs/reliability.md's assumptions -----

TAG_VISIBILITY = "Whether a tag write is visible to the next DescribePhoneNumber at once"
CURRENT_TARGET = "UpdatePhoneNumber to the target the number is already on"
FLOW_AFTER_MOVE = "Whether a move drops the number's flow association"
DESCRIBE_LAG = "Describe lag after UpdatePhoneNumber"
TOKEN_REUSE = "ClientToken reuse after an error"  # noqa: S105 - a title, not a secret
QUOTAS = "Rate quotas of the phone-number operations"
FAILED_PERSISTENCE = "`PhoneNumberStatus` after a failed move"
FLOW_FORMS = "`BatchGetFlowAssociation` for voice numbers (inferred)"
NATIVE_TAGS = "Tags on a number a native `AWS::Connect::PhoneNumber` claimed"
GROUP_REPLICA_FLOW = "A flow for a number on a traffic distribution group, in the replica Region (documented)"
FAILED_TARGET = "What a FAILED on a target means"
FAILED_LAG = "How long an earlier FAILED shows after a new UpdatePhoneNumber"
DELETED_AFTER_FAILED_CREATE = "A stack deleted after its creation failed (`OnFailure=DELETE`; inferred)"
NATIVE_TYPE = "AWS::Connect::PhoneNumber"
# ListPhoneNumbersV2's first page only, and one DescribeStackResources per number at the quota's pace.
NATIVE_SAMPLE = 25
# How long the replica Region is watched for the association to show (or go) after the home Region's call.
REPLICA_WAIT_SECONDS = 30


def probe_tag_visibility(s: Scenario) -> str:
    """Fresh values of one key written by one client, read by another with DescribePhoneNumber and
    ListTagsForResource at a pace under the quota: the maximum lag over the trials, and any older value seen
    after a newer one was."""
    number = s.resources.phone_number_id
    arn = s.arns[number]
    reader = s.backend.observer
    worst = 0.0
    out_of_order = []
    unseen = 0
    try:
        for trial in range(s.tag_trials):
            value = f"{trial}-{uuid.uuid4().hex[:8]}"
            s.connect.tag_resource(resourceArn=arn, tags={PROBE_TAG: value})
            written = s.clock()
            previous = f"{trial - 1}-" if trial else None
            seen = None
            saw_new = {"DescribePhoneNumber": False, "ListTagsForResource": False}
            while s.clock() - written < 30:
                s.sleep(s.quota_pace)
                shown = {
                    "DescribePhoneNumber": s.describe(number, reader).get("Tags", {}).get(PROBE_TAG),
                    "ListTagsForResource": reader.list_tags_for_resource(resourceArn=arn)["tags"].get(
                        PROBE_TAG
                    ),
                }
                for read, got in shown.items():
                    # Before the new value shows, only the previous write's value (or none) may.
                    older_allowed = (
                        got is None if previous is None else bool(got and got.startswith(previous))
                    )
                    if got == value:
                        saw_new[read] = True
                    elif saw_new[read] or not older_allowed:
                        # the new value then an older one, or a value older than the previous write
                        out_of_order.append(f"trial {trial}: {read} showed {got}")
                if all(saw_new.values()):
                    seen = s.clock() - written
                    break
            if seen is None:
                unseen += 1
            else:
                worst = max(worst, seen)
    finally:
        s.connect.untag_resource(resourceArn=arn, tagKeys=[PROBE_TAG])
    return (
        f"{s.tag_trials} trials, second client, paced {s.quota_pace} s: both reads showed the new value "
        f"within {worst:.2f} s at most (resolution {s.quota_pace} s); {unseen} never within 30 s; "
        + (
            f"out of order: {', '.join(out_of_order)}"
            if out_of_order
            else "never an older value after a newer one"
        )
    )


def probe_update_to_current_target(s: Scenario) -> str:
    """UpdatePhoneNumber to the target the number is on, with a flow associated there."""
    r = s.resources
    number = r.phone_number_id
    s.move(number, r.other_instance_arn)
    _associate(s, number, r.other_instance_arn, r.contact_flow_arn)
    try:
        s.update_phone_number(number, r.other_instance_arn)
    except s.connect.exceptions.ClientError as exc:
        flow = s.flow_of(number, r.other_instance_arn)
        return f"refused: {exc.response['Error']['Code']}; flow afterwards: {flow or 'none'}"
    statuses = []
    for _ in range(6):
        s.sleep(s.quota_pace)
        statuses.append(s.where(number)[1])
        if statuses[-1] == "CLAIMED" and "IN_PROGRESS" in statuses:
            break
    s.wait_claimed(number, r.other_instance_arn)
    flow = s.flow_of(number, r.other_instance_arn)
    return (
        f"accepted; statuses seen: {' -> '.join(dict.fromkeys(statuses))}; "
        f"flow association afterwards: {'kept' if flow else 'dropped'}"
    )


def probe_flow_after_move(s: Scenario) -> str:
    """The flow association after a successful move and after a refused one (the same-target move is
    probe_update_to_current_target's)."""
    r = s.resources
    number = r.phone_number_id
    s.move(number, r.other_instance_arn)
    _associate(s, number, r.other_instance_arn, r.contact_flow_arn)
    missing = r.instance_arn.rsplit("/", 1)[0] + "/" + MISSING_INSTANCE_ID
    try:
        s.update_phone_number(number, missing)
        refused = "accepted (unexpected)"
    except s.connect.exceptions.ClientError as exc:
        refused = exc.response["Error"]["Code"]
    after_refused = s.flow_of(number, r.other_instance_arn)
    s.move(number, r.instance_arn)
    left = s.flow_of(number, r.other_instance_arn)
    arrived = s.flow_of(number, r.instance_arn)
    s.move(number, r.other_instance_arn)
    back = s.flow_of(number, r.other_instance_arn)
    return (
        f"refused move ({refused}): association {'kept' if after_refused else 'dropped'}; successful move: "
        f"the old instance lists {left or 'none'}, the new one {arrived or 'none'}; moved back: "
        f"{'still there' if back else 'gone'}"
    )


def probe_describe_lag(s: Scenario) -> str:
    """How long DescribePhoneNumber shows the previous target and status after UpdatePhoneNumber."""
    r = s.resources
    number = r.phone_number_id
    home, _ = s.where(number)
    other = r.instance_arn if home != r.instance_arn else r.other_instance_arn
    s.update_phone_number(number, other)
    sent = s.clock()
    seen = []
    while s.clock() - sent < 30:
        summary = s.describe(number)
        seen.append((s.clock() - sent, summary["TargetArn"], summary["PhoneNumberStatus"]["Status"]))
        if summary["TargetArn"] == other:
            break
        s.sleep(s.quota_pace)
    s.wait_claimed(number, other)
    old = [t for t, target, _ in seen if target == home]
    return (
        f"previous target shown for {max(old):.2f} s after the call"
        if old
        else "the new target showed at the first read"
    ) + f"; statuses: {' -> '.join(dict.fromkeys(status for _, _, status in seen))}"


def probe_token_reuse_after_error(s: Scenario) -> str:
    """Can a ClientToken that was used for a rejected request be used again with valid parameters?"""
    r = s.resources
    number = r.phone_number_id
    home, _ = s.where(number)
    other = r.other_instance_arn if home != r.other_instance_arn else r.instance_arn
    missing = r.instance_arn.rsplit("/", 1)[0] + "/" + MISSING_INSTANCE_ID
    token = str(uuid.uuid4())
    try:
        s.update_phone_number(number, missing, token)
        first = "accepted (unexpected)"
    except s.connect.exceptions.ClientError as exc:
        first = exc.response["Error"]["Code"]
    try:
        s.update_phone_number(number, other, token)
        s.wait_claimed(number, other)
        second = "accepted, and the move happened"
    except s.connect.exceptions.ClientError as exc:
        second = f"refused with {exc.response['Error']['Code']}"
    return f"first use with a missing target: {first}; same token, valid target: {second}"


def probe_quotas(s: Scenario) -> str:
    """The applied rate quotas, read-only from Service Quotas (no load is generated)."""
    quotas = s.backend.service_quotas
    if quotas is None:
        return "unprobed: no Service Quotas client"
    found = []
    for page in quotas.get_paginator("list_service_quotas").paginate(ServiceCode="connect"):
        for quota in page.get("Quotas", []):
            name = quota.get("QuotaName", "")
            if "rate" in name.lower() and any(
                w in name for w in ("PhoneNumber", "phone number", "Tag", "FlowAssociation")
            ):
                found.append(f"{name} = {quota.get('Value')}")
    return (
        "; ".join(sorted(found))
        if found
        else "Service Quotas lists no applied rate quota for these operations"
    )


def probe_flow_association_forms(s: Scenario) -> str:
    """With a flow associated with the number: BatchGetFlowAssociation by the number's ARN (what the
    provider sends) and by its ID, and ListFlowAssociations: the forms ResourceId and FlowId come back in."""
    r = s.resources
    number = r.phone_number_id
    arn = s.arns[number]
    s.move(number, r.other_instance_arn)
    _associate(s, number, r.other_instance_arn, r.contact_flow_arn)
    instance = resource_id(r.other_instance_arn)
    forms = {arn: "the number's ARN", number: "the number's ID"}
    forms |= {r.contact_flow_arn: "the flow's ARN", resource_id(r.contact_flow_arn): "the flow's ID"}

    def shown(summaries: list[dict[str, Any]]) -> str:
        if not summaries:
            return "no summary"
        return "; ".join(
            f"ResourceId as {forms.get(a.get('ResourceId', ''), repr(a.get('ResourceId')))}, "
            f"FlowId as {forms.get(a.get('FlowId', ''), repr(a.get('FlowId')))}"
            for a in summaries
        )

    found = []
    for name, given in (("ARN", arn), ("ID", number)):
        s.sleep(s.quota_pace)
        try:
            answer = s.connect.batch_get_flow_association(
                InstanceId=instance, ResourceIds=[given], ResourceType="VOICE_PHONE_NUMBER"
            )
            found.append(f"BatchGetFlowAssociation by {name}: {shown(answer['FlowAssociationSummaryList'])}")
        except ClientError as exc:
            found.append(f"BatchGetFlowAssociation by {name}: refused, {_said(exc)}")
    listed = [
        a
        for page in s.connect.get_paginator("list_flow_associations").paginate(
            InstanceId=instance, ResourceType="VOICE_PHONE_NUMBER"
        )
        for a in page.get("FlowAssociationSummaryList", [])
        if a.get("ResourceId") in (arn, number)
    ]
    found.append(f"ListFlowAssociations: {shown(listed)}")
    return "; ".join(found)


def probe_native_number_tags(s: Scenario) -> str:
    """Read-only: of the run's numbers and ListPhoneNumbersV2's first page, those CloudFormation names an
    AWS::Connect::PhoneNumber as holding (DescribeStackResources by the number's ARN), and whether each
    carries an aws:cloudformation:* tag. Nothing is claimed, deployed or released to find one."""
    cloudformation = s.backend.cloudformation
    if cloudformation is None:
        return "unprobed: no CloudFormation client"
    listed = s.connect.list_phone_numbers_v2(MaxResults=NATIVE_SAMPLE)["ListPhoneNumbersSummaryList"]
    arns = list(
        dict.fromkeys([s.arns[n] for n in s.resources.numbers] + [n["PhoneNumberArn"] for n in listed])
    )
    natives: list[str] = []
    others: list[str] = []
    errors: list[str] = []
    unheld = 0
    for arn in arns:
        s.sleep(s.quota_pace)
        try:
            resources = cloudformation.describe_stack_resources(PhysicalResourceId=arn)["StackResources"]
        except ClientError as exc:
            if "does not exist" in exc.response["Error"].get("Message", ""):
                unheld += 1
            else:
                errors.append(f"{resource_id(arn)}: {_said(exc)}")
            continue
        holders = [h for h in resources if h.get("ResourceType") == NATIVE_TYPE and _holds(h, arn)]
        if not holders:
            others += sorted({h.get("ResourceType", "?") for h in resources if _holds(h, arn)}) or ["none"]
            continue
        tags = s.connect.describe_phone_number(PhoneNumberId=arn)["ClaimedPhoneNumberSummary"].get("Tags", {})
        system = sorted(k for k in tags if k.startswith(CLOUDFORMATION_TAG_PREFIX))
        holder = holders[0]
        natives.append(
            f"{resource_id(arn)} ({holder.get('StackName')}/{holder.get('LogicalResourceId')}, "
            f"{holder.get('ResourceStatus')}): "
            + (f"tagged {', '.join(system)}" if system else "no aws:cloudformation:* tag")
            + f" ({len(tags)} tags in all)"
        )
    found = (
        f"{len(arns)} numbers read (the run's and ListPhoneNumbersV2's first page, at most {NATIVE_SAMPLE}): "
        f"{len(natives)} held by an {NATIVE_TYPE}, {len(others)} by another resource type"
        + (f" ({', '.join(sorted(set(others)))})" if others else "")
        + f", {unheld} by no stack"
        + (f"; DescribeStackResources refused for {', '.join(errors)}" if errors else "")
    )
    if not natives:
        return (
            found
            + f" (unprobed: no native number in reach; a one-number {NATIVE_TYPE} stack would settle it)"
        )
    return found + "; " + "; ".join(natives)


def probe_deletion_after_failed_creation(s: Scenario) -> str:
    """A stack of no number (a WaitCondition that times out) created with OnFailure=DELETE: the stack's own
    events, oldest first. The provider takes a Delete for a rollback when the stack's CREATE_FAILED comes
    right before its DELETE_IN_PROGRESS (stacks.py); this says whether CloudFormation records it so."""
    stack_id = s.backend.fail_a_creation()
    if stack_id is None:
        return "unprobed: this backend cannot create a failing stack"
    pages = s.backend.cloudformation.get_paginator("describe_stack_events").paginate(StackName=stack_id)
    own = [
        event["ResourceStatus"]
        for page in pages
        for event in page["StackEvents"]
        if event.get("PhysicalResourceId") == stack_id
        and event.get("ResourceType") == "AWS::CloudFormation::Stack"
    ][::-1]
    follows = any(a == "CREATE_FAILED" and b == "DELETE_IN_PROGRESS" for a, b in itertools.pairwise(own))
    return (
        f"the stack's own events: {' -> '.join(own) or 'none'}; CREATE_FAILED right before "
        f"DELETE_IN_PROGRESS: {'yes (the provider reads the deletion as a rollback)' if follows else 'NO'}"
    )


def _holds(resource: dict[str, Any], arn: str) -> bool:
    return resource.get("PhysicalResourceId") in (arn, resource_id(arn))


def probe_group_flow_in_replica_region(s: Scenario) -> str:
    """A flow associated (as the provider does) with a number on the traffic distribution group, in the
    group's home instance: is the association mirrored to the replica instance (same instance ID) in the
    group's other Region, and does it go when the home Region's association goes? Read-only there."""
    r = s.resources
    group = r.traffic_distribution_group_arn
    if not group:
        return "unprobed: skipped, no ACCEPTANCE_TDG_ARN (a traffic distribution group with a replica Region)"
    try:
        distribution = s.connect.get_traffic_distribution(Id=group)
    except ClientError as exc:
        return f"unprobed: GetTrafficDistribution answered {_said(exc)}"
    # Every Region any of the three configurations names (a replica at 0 % may be listed in one only).
    regions = list(
        dict.fromkeys(
            d["Region"]
            for config in ("TelephonyConfig", "SignInConfig", "AgentConfig")
            for d in (distribution.get(config) or {}).get("Distributions", [])
            if d.get("Region") and d["Region"] != s.backend.region
        )
    )
    if not regions:
        return f"unprobed: GetTrafficDistribution names no Region but {s.backend.region}"
    home = s.connect.describe_traffic_distribution_group(TrafficDistributionGroupId=group)[
        "TrafficDistributionGroup"
    ]["InstanceArn"]
    number = r.phone_number_id
    original = s.original[number]
    if r.contact_flow_arn.startswith(home + "/contact-flow/"):
        flow = resource_id(r.contact_flow_arn)
    elif original.target == home and original.flow_id:
        flow = original.flow_id
    else:
        return (
            f"unprobed: no flow of the group's instance {home} is known (ACCEPTANCE_CONTACT_FLOW_ARN is in "
            "another instance and the number had none there)"
        )
    arn = s.arns[number]
    s.move(number, group)
    s.connect.associate_phone_number_contact_flow(
        PhoneNumberId=arn, InstanceId=resource_id(home), ContactFlowId=flow
    )
    at_home = s.flow_of(number, home)
    found = [f"home {s.backend.region}: {'flow ' + at_home if at_home else 'no association listed'}"]
    mirrored = {}
    for region in regions:
        replica_connect = s.backend.connect_in(region)
        read = functools.partial(_flow_listed, replica_connect, resource_id(home), number)
        try:
            shown, waited = _watch(s, read, lambda f: f is not None)
        except ClientError as exc:
            found.append(f"{region}: ListFlowAssociations refused, {_said(exc)}")
            continue
        if shown is None:
            found.append(f"{region}: not there after {REPLICA_WAIT_SECONDS} s (not mirrored)")
            continue
        found.append(
            f"{region}: {'the same flow' if shown == flow else 'flow ' + shown} after {waited:.1f} s"
        )
        mirrored[region] = read
    if mirrored:
        # Taken away at home (the provider's way out): the replica's must not outlive it.
        s.connect.disassociate_phone_number_contact_flow(PhoneNumberId=arn, InstanceId=resource_id(home))
        for region, read in mirrored.items():
            left, waited = _watch(s, read, lambda f: f is None)
            found.append(
                f"after DisassociatePhoneNumberContactFlow at home, {region}: "
                + (f"gone after {waited:.1f} s" if left is None else f"still there after {waited:.1f} s")
            )
    s.move(number, original.target)  # teardown restores the flow the number had
    for region, read in mirrored.items():
        left, _ = _watch(s, read, lambda f: f is None)
        if left is not None:  # nothing is changed in the replica: left behind, with what would remove it
            found.append(f"left in {region} after the number left the group: flow {left}")
            s.report.left_behind.append(
                _aws(
                    "connect", "disassociate-phone-number-contact-flow", region,
                    "--phone-number-id", number, "--instance-id", resource_id(home),
                )
            )  # fmt: skip
    return "; ".join(found)


def _said(exc: ClientError) -> str:
    """An error as one short line: its code and the start of its message (which may be an HTML page)."""
    error = exc.response.get("Error", {})
    message = " ".join(str(error.get("Message", "")).split())
    return f"{error.get('Code')}: {message[:160]}" + ("..." if len(message) > 160 else "")


def _flow_listed(connect: Any, instance_id: str, number: str) -> str | None:
    """The flow ID ListFlowAssociations shows for the number (matched by its ID, whichever form is shown)."""
    pages = connect.get_paginator("list_flow_associations").paginate(
        InstanceId=instance_id, ResourceType="VOICE_PHONE_NUMBER"
    )
    for page in pages:
        for association in page.get("FlowAssociationSummaryList", []):
            if resource_id(association.get("ResourceId", "")) == number:
                return resource_id(association.get("FlowId", ""))
    return None


def _watch(s: Scenario, read: Callable[[], Any], done: Callable[[Any], bool]) -> tuple[Any, float]:
    """Read at the quota's pace until done or REPLICA_WAIT_SECONDS: the last value and when it was read."""
    started = s.clock()
    while True:
        value = read()
        waited = s.clock() - started
        if done(value) or waited > REPLICA_WAIT_SECONDS:
            return value, waited
        s.sleep(s.quota_pace)


def _label(s: Scenario, target: str) -> str:
    r = s.resources
    names = {r.instance_arn: "instance", r.other_instance_arn: "other instance"}
    if r.traffic_distribution_group_arn:
        names[r.traffic_distribution_group_arn] = "group"
    return names.get(target, target)


def _trace_text(s: Scenario, m: MoveTrace) -> str:
    first = m.reads[0] if m.reads else None
    start = (
        f"first read at {first[0]:.1f} s: {first[2]} on "
        + ("the previous target" if first[1] == m.source else _label(s, first[1]))
        if first
        else "never read"
    )
    end = (
        f"{m.outcome[2]} on {_label(s, m.outcome[1])} at {m.outcome[0]:.1f} s"
        if m.outcome
        else "no outcome seen"
    )
    return f"{_label(s, m.source)} -> {_label(s, m.target)}: {start}, {end}"


def probe_failed_target(s: Scenario) -> str:
    """For every move the run sent that ended FAILED: which target Describe showed with the FAILED (the
    one the number left, the one it was sent to, or another). Not provoked: no failure is provably safe."""
    failed = [m for m in s.moves if m.outcome and m.outcome[2] == "FAILED"]
    if not failed:
        return (
            f"unprobed: none of the {len(s.moves)} moves the run sent ended FAILED (a failure cannot be "
            "provoked safely; every move is traced, so one that fails is reported here)"
        )
    return "; ".join(
        f"{_label(s, m.source)} -> {_label(s, m.target)}: FAILED shown on "
        + (
            "the source"
            if m.outcome[1] == m.source
            else "the target"
            if m.outcome[1] == m.target
            else m.outcome[1]
        )
        + f" ({m.outcome[3]})"
        for m in failed
        if m.outcome
    )


def probe_describe_after_failed(s: Scenario) -> str:
    """Every move the run sent, as Describe showed it (first read, outcome and when); for a move sent while
    an earlier FAILED showed, how long that FAILED kept showing. The provider's moves are not seen here."""
    moves = [m for m in s.moves if not m.same_target]
    after_failed = [m for m in moves if m.failed_before is not None]
    traced = "; ".join(_trace_text(s, m) for m in moves)
    summary = f"{len(moves)} moves sent by the run (resolution {s.quota_pace}-{s.poll_seconds} s): {traced}"
    if not after_failed:
        return f"unprobed (no move followed a FAILED); {summary}"
    lags = []
    for m in after_failed:
        old = [t for t, _, status, message in m.reads if status == "FAILED" and message == m.failed_before]
        lags.append(
            f"{_label(s, m.source)} -> {_label(s, m.target)}: the earlier FAILED showed "
            + (f"for {max(old):.1f} s after the call" if old else "at no read after the call")
        )
    return "; ".join(lags) + f"; {summary}"


def _associate(s: Scenario, number: str, instance_arn: str, flow_arn: str) -> None:
    s.connect.associate_phone_number_contact_flow(
        PhoneNumberId=s.arns[number],
        InstanceId=resource_id(instance_arn),
        ContactFlowId=resource_id(flow_arn),
    )


PROBES: list[tuple[str, ProbeFunction]] = [
    (TAG_VISIBILITY, probe_tag_visibility),
    (CURRENT_TARGET, probe_update_to_current_target),
    (FLOW_AFTER_MOVE, probe_flow_after_move),
    (DESCRIBE_LAG, probe_describe_lag),
    (TOKEN_REUSE, probe_token_reuse_after_error),
    (QUOTAS, probe_quotas),
    (FLOW_FORMS, probe_flow_association_forms),
    (NATIVE_TAGS, probe_native_number_tags),
    (GROUP_REPLICA_FLOW, probe_group_flow_in_replica_region),
    (DELETED_AFTER_FAILED_CREATE, probe_deletion_after_failed_creation),
    # Last: they read what every move before them showed.
    (FAILED_TARGET, probe_failed_target),
    (FAILED_LAG, probe_describe_after_failed),
]
