"""The Connect calls this provider makes.

Each call is made once by botocore (clients.CONNECT_CLIENT_CONFIG); throttling, internal errors and
connection failures are tried again here, paced by waiting.Pacing, until the invocation's time budget
runs out. Moves are
asynchronous: ``wait_for_move`` polls DescribePhoneNumber until the number is CLAIMED on the target, which is
the only observation that means success. How long and how often it waits is waiting.py's policy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import ClientError
from botocore.utils import ArnParser, InvalidArnException

from . import retries
from .errors import (
    ConnectAnswer,
    ConnectBusy,
    ConnectFlowNotPublished,
    ConnectNotFound,
    MoveFailed,
    MoveOutcomeNotSeen,
    MoveStillInProgress,
    PhoneNumberNotFound,
    TooLittleTime,
    UnusableContactFlow,
    answer_of,
    error_message,
    full_target_advice,
    quote,
)
from .telemetry import logger
from .waiting import (
    MIN_SECONDS_TO_START_A_MOVE,
    POLL_SECONDS,
    STALE_STATUS_GRACE_SECONDS,
    Budget,
)

CLAIMED = "CLAIMED"
IN_PROGRESS = "IN_PROGRESS"
FAILED = "FAILED"
# What DescribeContactFlow says of a flow a phone number can route calls to.
INBOUND_FLOW_TYPE = "CONTACT_FLOW"
PUBLISHED = "PUBLISHED"
ACTIVE = "ACTIVE"


@dataclass(frozen=True)
class PhoneNumberState:
    """What DescribePhoneNumber says about a number."""

    arn: str
    id: str
    phone_number: str
    target_arn: str
    status: str
    message: str
    tags: Mapping[str, str] = field(default_factory=dict)
    # The instance the number is in: the target itself, or a traffic distribution group's home instance.
    instance_id: str = ""

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> PhoneNumberState:
        status = summary.get("PhoneNumberStatus") or {}
        return cls(
            arn=summary["PhoneNumberArn"],
            id=summary["PhoneNumberId"],
            phone_number=summary.get("PhoneNumber", ""),
            target_arn=summary.get("TargetArn", ""),
            status=status.get("Status", ""),
            message=status.get("Message", ""),
            tags=dict(summary.get("Tags") or {}),
            instance_id=summary.get("InstanceId", ""),
        )

    def is_claimed_on(self, target_arn: str) -> bool:
        """Whether the number is usable on ``target_arn``: the Claim or Update that put it there succeeded.

        The only state in which an assignment needs no move. FAILED never counts: it is the outcome of the
        last operation, and a FAILED on the declared target may be a number that failed to get there (a
        failed ClaimPhoneNumber, or whatever TargetArn a failed update shows, which no document settles);
        moving it there again costs one move and ends CLAIMED or with Connect's own reason.
        """
        return self.status == CLAIMED and self.target_arn == target_arn

    def rests_on(self, target_arn: str) -> bool:
        """Whether the number is on ``target_arn`` with nothing in flight: where it IS, usable or not.

        For the paths that put a number back (undo, rollback, Restore) and ask whether it is where it was:
        UpdatePhoneNumber's failure leaves the number on the target it never left (PhoneNumberStatus: FAILED
        describes "the previous ... UpdatePhoneNumber operation", not a place), so a FAILED there is back
        already, and moving it again would only drop its flow association. Never for deciding that an
        assignment needs no move (``is_claimed_on``).
        """
        return self.status in (CLAIMED, FAILED) and self.target_arn == target_arn

    @property
    def label(self) -> str:
        """How Reasons name the number: the E.164 number people recognise, and its ARN."""
        return f"{self.phone_number} ({self.arn})" if self.phone_number else self.arn


@dataclass(frozen=True)
class TrafficDistributionGroupState:
    """What DescribeTrafficDistributionGroup says about a group."""

    arn: str
    status: str
    instance_id: str

    @property
    def is_active(self) -> bool:
        return self.status == "ACTIVE"


class PhoneNumbers(retries.BudgetedClient):
    """Connect phone-number operations, bounded by one invocation's Budget."""

    service = "connect"

    def __init__(self, client: Any, budget: Budget, **timing: Any) -> None:
        super().__init__(client, budget, **timing)
        # Numbers whose move Connect accepted in this invocation: a failure leaves something to undo there.
        self.moves_started: set[str] = set()
        # Traffic distribution groups' home instances, read once per invocation (instance_of_target).
        self._group_instances: dict[str, str] = {}
        # Waiting out Describe's lag (describe_after_lag): per number, the wall-clock time of the read the
        # wait is measured from, carried to a continuation of the request (continuation.py), and when each
        # number was last read. The app sets ``wall_clock``; without one every wait is waited in full.
        self.lag_since: dict[str, float] = {}
        self.wall_clock: Callable[[], float] | None = None
        self._read_at: dict[str, float] = {}

    # Reads ---------------------------------------------------------------------------------------------

    def describe(self, arn: str) -> PhoneNumberState | None:
        """The number's state, or None if Connect says it does not exist."""
        try:
            response = self._call(
                "DescribePhoneNumber", f"describing {arn}", expected=(ConnectNotFound,), PhoneNumberId=arn
            )
        except ConnectNotFound:
            return None
        state = PhoneNumberState.from_summary(response["ClaimedPhoneNumberSummary"])
        if self.wall_clock is not None:
            self._read_at[arn] = self.wall_clock()
        if not state.instance_id and state.target_arn:
            # InstanceId is "Required: No" in DescribePhoneNumber's answer: without it, the flow the number
            # routes to could be neither read nor associated again. The target says which instance it is.
            state = replace(state, instance_id=self.instance_of_target(state.target_arn))
        return state

    def instance_of_target(self, target_arn: str) -> str:
        """The instance a number on ``target_arn`` is in: the instance itself, or a traffic distribution
        group's home instance (DescribeTrafficDistributionGroup); "" for a group Connect does not find."""
        try:
            resource = ArnParser().parse_arn(target_arn)["resource"]
        except InvalidArnException:
            return ""
        kind, _, rest = resource.partition("/")
        if kind == "instance":
            return rest.split("/", 1)[0]
        if kind != "traffic-distribution-group":
            return ""
        if target_arn not in self._group_instances:
            group = self.describe_traffic_distribution_group(target_arn)
            self._group_instances[target_arn] = group.instance_id if group is not None else ""
        return self._group_instances[target_arn]

    def describe_existing(self, arn: str) -> PhoneNumberState:
        state = self.describe(arn)
        if state is None:
            raise PhoneNumberNotFound(
                f"Phone number {arn} does not exist in this account and Region. Claim it first "
                "(console, ClaimPhoneNumber or AWS::Connect::PhoneNumber) and pass its ID or ARN."
            )
        return state

    def settle(self, state: PhoneNumberState) -> PhoneNumberState:
        """Wait until no operation is in flight on the number (someone else's move, or an earlier attempt)."""
        schedule = self._pacing.poll_delays()
        while state.status == IN_PROGRESS:
            self._pause(next(schedule), state, waiting_for="another operation on it to finish")
            state = self.describe_existing(state.arn)
        return state

    def describe_after_lag(self, state: PhoneNumberState) -> PhoneNumberState:
        """The number's state once a move accepted just before ``state`` was read would show.

        Measured from the read the request first waited from (``lag_since``), which a continuation carries:
        a continuation that decides to wait again (it re-runs the request from the top) waits only what is
        left, and when its own first read already came after the lag, that read is the answer. Waiting the
        whole lag again in every invocation, each then needing one more Describe turn that did not fit,
        handed a long queue's requests over and over (N=60 at a 40 s timeout: 1,019 hand-overs, 7.4x the
        floor)."""
        read_at = self._read_at.get(state.arn)
        left = STALE_STATUS_GRACE_SECONDS
        if self.wall_clock is not None and read_at is not None:
            since = self.lag_since.setdefault(state.arn, read_at)
            if read_at - since >= STALE_STATUS_GRACE_SECONDS:
                return state
            left = since + STALE_STATUS_GRACE_SECONDS - self.wall_clock()
        if left > 0:
            self._pause(left, state, waiting_for="Connect to show a move that may have started")
        return self.describe_existing(state.arn)

    def routed_flow(self, state: PhoneNumberState) -> str:
        """The ARN of the contact flow the number routes to in its instance, "" if none.

        UpdatePhoneNumber "doesn't migrate the flow configuration" (API reference): a number moved back is
        routed to nothing unless the flow it had is associated again, so this is read before the first
        move. Connect does not document which identifier forms the summary uses, so both the number's ID
        and ARN are recognised, and a flow ID is turned into its ARN.
        """
        if not state.instance_id:
            logger.warning(
                "Could not tell which instance the number is in; the flow it routes to was not read, and "
                "putting it back will not associate one",
                extra={"target": state.target_arn},
            )
            return ""
        try:
            response = self._call(
                "BatchGetFlowAssociation",
                f"reading which contact flow {state.label} routes to",
                expected=(ConnectNotFound,),
                InstanceId=state.instance_id,
                ResourceIds=[state.arn],
                ResourceType="VOICE_PHONE_NUMBER",
            )
        except ConnectNotFound:
            return ""
        for summary in response.get("FlowAssociationSummaryList") or []:
            if summary.get("ResourceId") in (state.arn, state.id) and summary.get("FlowId"):
                flow = summary["FlowId"]
                if flow.startswith("arn:"):
                    return flow
                account_prefix = state.arn.split(":phone-number/", 1)[0]
                return f"{account_prefix}:instance/{state.instance_id}/contact-flow/{flow}"
        return ""

    def describe_traffic_distribution_group(self, arn: str) -> TrafficDistributionGroupState | None:
        """The group's status and home instance, or None if Connect says it does not exist."""
        try:
            response = self._call(
                "DescribeTrafficDistributionGroup",
                f"describing traffic distribution group {arn}",
                expected=(ConnectNotFound,),
                TrafficDistributionGroupId=arn,
            )
        except ConnectNotFound:
            return None
        group = response["TrafficDistributionGroup"]
        instance_arn = group.get("InstanceArn", "")
        return TrafficDistributionGroupState(
            arn=group.get("Arn", arn),
            status=group.get("Status", ""),
            instance_id=instance_arn.rsplit("/", 1)[-1],
        )

    def require_inbound_flow(self, instance_id: str, flow_id: str, flow_arn: str) -> None:
        """Refuse, before anything changes, a flow a phone number cannot route calls to.

        A number takes an inbound flow: DescribeContactFlow's Type CONTACT_FLOW ("Inbound flow" in the
        Administrator Guide's "Choose a flow type"), Status PUBLISHED (a SAVED flow has not been validated
        and has no published content to run) and State ACTIVE (not ARCHIVED). Whether
        AssociatePhoneNumberContactFlow itself refuses the others is not documented; finding out there, after
        the move, would cost a move back. One DescribeContactFlow per Create or Update that declares a flow,
        against that operation's own quota.
        """
        subject = f"Property ContactFlowArn names {flow_arn}"
        try:
            response = self._call(
                "DescribeContactFlow",
                f"describing contact flow {flow_arn}",
                expected=(ConnectNotFound, ConnectFlowNotPublished),
                InstanceId=instance_id,
                ContactFlowId=flow_id,
            )
        except ConnectNotFound:
            raise UnusableContactFlow(
                f"{subject}, which Connect does not find in instance {instance_id}. Check ContactFlowArn; "
                "nothing was changed."
            ) from None
        except ConnectFlowNotPublished:
            raise UnusableContactFlow(
                f"{subject}, which has not been published. Publish it (or choose a published inbound flow); "
                "nothing was changed."
            ) from None
        flow = response.get("ContactFlow") or {}
        problems = []
        if flow.get("Type") != INBOUND_FLOW_TYPE:
            problems.append(f"its type is {quote(flow.get('Type', 'unknown'), 40)}, not CONTACT_FLOW")
        if flow.get("Status") != PUBLISHED:
            problems.append(f"its status is {quote(flow.get('Status', 'unknown'), 40)}, not PUBLISHED")
        if flow.get("State") != ACTIVE:
            problems.append(f"its state is {quote(flow.get('State', 'unknown'), 40)}, not ACTIVE")
        if problems:
            raise UnusableContactFlow(
                f"{subject}, which a phone number cannot route calls to: {'; '.join(problems)}. Declare a "
                "published, active inbound flow (type CONTACT_FLOW); nothing was changed."
            )

    # Changes -------------------------------------------------------------------------------------------

    def start_move(
        self,
        state: PhoneNumberState,
        target_arn: str,
        client_token: str,
        *,
        fence: Callable[[], None] | None = None,
    ) -> None:
        """UpdatePhoneNumber. Raises ConnectBusy if another operation holds the number, ConnectNotFound if the
        target does not exist (or, for a traffic distribution group, is not ACTIVE). ``fence`` runs before
        each retry of a throttled call, and stops the move by raising."""
        if self.budget.remaining() < MIN_SECONDS_TO_START_A_MOVE:
            self.budget.hand_over(f"starting the move of {state.label}")
            # A move started now could not be seen through: the answer would be FAILED with a move in flight,
            # which only leaves the rollback more to undo.
            raise TooLittleTime(
                f"Only {self.budget.remaining():.0f} s of the time budget were left to move {state.label} to "
                f"{target_arn}; nothing was moved. Retry the stack operation (a longer ServiceTimeout or "
                "function Timeout leaves more time)."
            )
        try:
            self._call(
                "UpdatePhoneNumber",
                f"moving {state.label} to {target_arn}",
                expected=(ConnectBusy, ConnectNotFound),
                before_retry=fence,
                PhoneNumberId=state.arn,
                TargetArn=target_arn,
                ClientToken=client_token,
            )
        except ConnectBusy:
            # Describe may still show the number CLAIMED (service lag): without a pause the caller's
            # describe-and-retry loop would spin on the 2 requests/s quota every resource shares.
            self._pause(POLL_SECONDS, state, waiting_for="another operation on it to finish")
            raise
        self.moves_started.add(state.arn)

    def wait_for_move(self, before: PhoneNumberState, target_arn: str) -> PhoneNumberState:
        """Poll until the number is CLAIMED on ``target_arn``; raise MoveFailed once Connect reports this
        move FAILED.

        The move is judged only by a status written after Connect accepted it. Describe lags an accepted
        update (it goes on showing the number as it was), so a FAILED seen while the number was already
        FAILED before the call (``before``), and before the move was ever seen IN_PROGRESS, may be the earlier
        operation's: it is waited out as lag for as long as the budget lasts, however long that is. Proof that
        a FAILED is this move's: the move was seen IN_PROGRESS since the call, or the number was not FAILED
        before it. A budget that runs out on the old FAILED raises MoveOutcomeNotSeen, not MoveFailed: the
        move may still land, and whoever comes next (a retry, the rollback) must still undo it.
        """
        seen_in_progress = False
        schedule = self._pacing.move_poll_delays()
        state = before
        while True:
            if state.status == FAILED and self.budget.remaining() <= 0:
                self.budget.hand_over(f"the outcome of the move of {before.label}")
                # Only an unproven FAILED gets here (a proven one was raised below).
                raise MoveOutcomeNotSeen(
                    f"Connect accepted the move of {before.label} to {target_arn}, but until the time "
                    f"budget ran out ({self.budget.seconds:.0f} s) DescribePhoneNumber still showed the "
                    f"FAILED status an earlier operation left ({quote(state.message or 'no message')}), so "
                    "this move's own outcome was never seen: it may still be running. Retry the stack "
                    "operation, which picks up where this left off; a rollback puts the number back wherever "
                    "the move ends."
                )
            delay = next(schedule)
            self._pause(delay, state, waiting_for=f"its move to {target_arn}")
            state = self.describe(before.arn)
            if state is None:
                raise PhoneNumberNotFound(
                    f"Phone number {before.label} disappeared (released?) while moving to {target_arn}."
                )
            if state.is_claimed_on(target_arn):
                return state
            if state.status == IN_PROGRESS:
                seen_in_progress = True
            elif state.status == FAILED and (seen_in_progress or before.status != FAILED):
                raise MoveFailed(
                    f"Connect could not move {before.label} to {target_arn}: "
                    f"{quote(state.message or 'no message')}. The number stays on {state.target_arn}. "
                    f"{full_target_advice(state.message)}"
                )
            elif state.status == CLAIMED and seen_in_progress:
                raise MoveFailed(
                    f"The move of {before.label} finished on {state.target_arn}, not on {target_arn}: "
                    "another operation moved the number at the same time."
                )

    def tag(self, state: PhoneNumberState, tags: Mapping[str, str]) -> PhoneNumberState:
        """Tag the number; returns its state with those tags, without spending a Describe on reading them."""
        self._call("TagResource", f"tagging {state.arn}", resourceArn=state.arn, tags=dict(tags))
        return replace(state, tags={**state.tags, **tags})

    def untag(self, state: PhoneNumberState, keys: Collection[str]) -> PhoneNumberState:
        """Remove tag keys from the number; returns its state without them."""
        if keys:
            self._call("UntagResource", f"untagging {state.arn}", resourceArn=state.arn, tagKeys=list(keys))
        return replace(state, tags={key: value for key, value in state.tags.items() if key not in keys})

    def associate_flow(self, state: PhoneNumberState, instance_id: str, flow_id: str, flow_arn: str) -> None:
        self._call(
            "AssociatePhoneNumberContactFlow",
            f"associating {state.label} with contact flow {flow_arn}",
            # The ARN, not the ID: Connect requires it for a number on a traffic distribution group.
            PhoneNumberId=state.arn,
            InstanceId=instance_id,
            ContactFlowId=flow_id,
        )

    def disassociate_flow(self, state: PhoneNumberState, instance_id: str) -> None:
        """Remove the number's flow association in ``instance_id``; one that is already gone is fine."""
        with contextlib.suppress(ConnectNotFound):
            self._call(
                "DisassociatePhoneNumberContactFlow",
                f"removing the contact flow of {state.label}",
                expected=(ConnectNotFound,),
                PhoneNumberId=state.arn,
                InstanceId=instance_id,
            )

    # Plumbing ------------------------------------------------------------------------------------------

    def _call(
        self,
        operation: str,
        subject: str,
        *,
        expected: Collection[type[ConnectAnswer]] = (),
        before_retry: Callable[[], None] | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """One Connect call, retried on throttling and internal errors until the budget runs out.

        An error that errors.answer_of maps to one of ``expected`` is raised as that answer, for the caller to
        handle; any other becomes a ProviderError from the taxonomy, with ``subject`` saying what the call
        was for.
        """

        def expected_answer(error: ClientError) -> Exception | None:
            answer = answer_of(error)
            return answer(error_message(error)) if answer is not None and answer in expected else None

        return self._retried(operation, subject, params, expected_answer, before_retry)

    def _pause(self, delay: float, state: PhoneNumberState, *, waiting_for: str) -> None:
        remaining = self.budget.remaining()
        if remaining <= 0:
            self.budget.hand_over(f"{waiting_for} ({state.label})")
            raise MoveStillInProgress(
                f"Gave up after {self.budget.seconds:.0f} s waiting for {waiting_for}: {state.label} is "
                f"still {state.status or 'changing'} on {state.target_arn or 'an unknown target'}. Connect "
                "may still finish the move; retry the stack operation, which picks up where this left off."
            )
        logger.debug(
            "Waiting before the next look",
            extra={
                "waiting_for": waiting_for,
                "status": state.status,
                "seen_target": state.target_arn,
                "wait_seconds": round(min(delay, remaining), 2),
                "budget_left_seconds": round(remaining, 1),
            },
        )
        self._sleep(min(delay, remaining))
