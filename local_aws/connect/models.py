"""Phone numbers, traffic distribution groups and contact flows, one backend per account and Region.

The data lives in a moto ``BackendDict`` next to moto's own ``connect_backends`` (which keeps the
instances), so moto's reset (``mock_aws`` start/stop, ``POST /moto-api/reset``) clears it too.

Why phone-number status is not a moto ``ManagedState``: ManagedState's "time" progression advances
one step per *read* after N seconds relative to the previous step, globally per model name. The
emulator needs absolute, per-move timestamps instead -- a stale window, then IN_PROGRESS, then
CLAIMED or FAILED at ``completes_at`` -- because ``moves()`` promises the exact completion time and
``configure()`` changes timing for later moves only. So each move stores its own timestamps and the
visible state is derived from the emulator's clock (``runtime.now()``) whenever it is read. Traffic
distribution groups, whose status has no such requirements, do use ManagedState.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from botocore.loaders import Loader
from moto.connect.models import Instance, connect_backends
from moto.core.base_backend import BackendDict, BaseBackend
from moto.moto_api._internal.managed_state_model import ManagedState
from moto.utilities.utils import get_partition

from .exceptions import (
    IdempotencyException,
    InvalidParameterException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from .runtime import MoveRecord, runtime
from .tags import TagWrite, visible_tags

CLAIMED = "CLAIMED"
IN_PROGRESS = "IN_PROGRESS"
FAILED = "FAILED"

TDG_STATE_MODEL = "connect::trafficdistributiongroup"
TDG_ACTIVE = "ACTIVE"

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):connect:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<resource>.+)$"
)
RESOURCE_ID = r"[A-Za-z0-9_-]+"
INSTANCE_RESOURCE = re.compile(rf"^instance/(?P<id>{RESOURCE_ID})$")
TDG_RESOURCE = re.compile(rf"^traffic-distribution-group/(?P<id>{RESOURCE_ID})$")
PHONE_NUMBER_RESOURCE = re.compile(rf"^phone-number/(?P<id>{RESOURCE_ID})$")
CONTACT_FLOW_RESOURCE = re.compile(
    rf"^instance/(?P<instance>{RESOURCE_ID})/contact-flow/(?P<id>{RESOURCE_ID})$"
)

# Enough of the world to give claimed and offered numbers a plausible country.
DIAL_CODES = {
    "US": "1", "CA": "1", "PR": "1", "GB": "44", "IE": "353", "DE": "49", "FR": "33", "ES": "34",
    "IT": "39", "NL": "31", "BE": "32", "CH": "41", "AT": "43", "SE": "46", "NO": "47", "DK": "45",
    "FI": "358", "PL": "48", "PT": "351", "AU": "61", "NZ": "64", "JP": "81", "KR": "82", "SG": "65",
    "HK": "852", "IN": "91", "ZA": "27", "BR": "55", "MX": "52", "AR": "54", "CL": "56", "CO": "57",
    "IL": "972", "AE": "971",
}  # fmt: skip
COUNTRY_BY_DIAL_CODE = {"1": "US"} | {code: country for country, code in DIAL_CODES.items() if code != "1"}
NANP_TOLL_FREE_AREA_CODES = {"800", "833", "844", "855", "866", "877", "888"}
E164_DIGITS = 11  # a typical length, used for synthetic numbers in every country
AVAILABLE_NUMBERS_PER_SEARCH = 50
SEARCH_PAGE_LIMIT = 10
LIST_DEFAULT_PAGE_SIZE = 10
# The quota "Phone numbers per instance": 5 by default in a new account (Amazon Connect Administrator Guide,
# "Connect Customer service quotas"; adjustable through Service Quotas), and "service quotas are specific to
# each instance" ("Create a development or test instance"). A move onto a full target is accepted and then
# ends FAILED: the model's PhoneNumberStatus says "A common reason for a failure may be that the TargetArn
# value you are claiming or updating a phone number to has reached its limit of total claimed numbers".
DEFAULT_PHONE_NUMBERS_PER_INSTANCE = 5


def full_target_message(target_arn: str) -> str:
    """The FAILED status message of a move onto a full target. Connect's exact wording is not documented:
    this one is the API reference's own phrase (docs/reliability.md, assumptions)."""
    return f"The TargetArn {target_arn} has reached its limit of total claimed numbers"


@dataclass(frozen=True)
class Target:
    arn: str
    instance_id: str


@dataclass
class PendingMove:
    from_target: Target | None  # None while the number is being claimed
    to_target: Target
    started_at: float
    shows_new_target_at: float
    completes_at: float
    outcome: str
    failure_message: str | None
    # What the number showed before this move: a replica that lags the update still shows it.
    from_status: str = CLAIMED
    from_message: str | None = None
    # UpdatePhoneNumberMetadata is an operation of its own kind: IN_PROGRESS like a move, then the number's
    # previous status again (CLAIMED or FAILED describe the last Claim or Update, which it is not), with the
    # new description, on the same target; no move is recorded.
    is_move: bool = True
    new_description: str | None = None


@dataclass(frozen=True)
class LaggingStatus:
    """A FAILED left by an earlier operation, still shown after a new UpdatePhoneNumber was accepted."""

    until: float
    target: Target
    message: str | None


@dataclass
class ContactFlow:
    id: str
    arn: str
    instance_id: str
    name: str
    flow_type: str
    content: str
    description: str | None = None
    status: str = "PUBLISHED"
    tags: dict[str, str] = field(default_factory=dict)
    tag_writes: list[TagWrite] = field(default_factory=list)
    state: str = "ACTIVE"  # or ARCHIVED (ContactFlowState)

    @property
    def routes_calls(self) -> bool:
        """Whether a phone number can be associated with it: a published, active inbound flow."""
        return (self.flow_type, self.status, self.state) == ("CONTACT_FLOW", "PUBLISHED", "ACTIVE")

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "Arn": self.arn,
            "Id": self.id,
            "Name": self.name,
            "Type": self.flow_type,
            "State": self.state,
            "Status": self.status,
            "Content": self.content,
            "Tags": visible_tags(self, runtime.now()),
            "FlowContentSha256": hashlib.sha256(self.content.encode()).hexdigest(),
        }
        if self.description is not None:
            described["Description"] = self.description
        return described


class TrafficDistributionGroup(ManagedState):
    def __init__(self, tdg_id: str, arn: str, name: str, instance_arn: str, instance_id: str) -> None:
        super().__init__(TDG_STATE_MODEL, transitions=[("CREATION_IN_PROGRESS", TDG_ACTIVE)])
        self.id = tdg_id
        self.arn = arn
        self.name = name
        self.instance_arn = instance_arn
        self.instance_id = instance_id
        self.description: str | None = None
        self.tags: dict[str, str] = {}
        self.tag_writes: list[TagWrite] = []
        # A status set by seed() or control.set_traffic_distribution_group_status() holds until changed;
        # otherwise moto's state manager advances CREATION_IN_PROGRESS to ACTIVE.
        self.pinned_status: str | None = None

    @property
    def status(self) -> str | None:
        if self.pinned_status is not None:
            return self.pinned_status
        return ManagedState.status.fget(self)  # type: ignore[attr-defined]

    @status.setter
    def status(self, value: str) -> None:
        self._status = value

    def describe(self) -> dict[str, Any]:
        self.advance()
        described: dict[str, Any] = {
            "Id": self.id,
            "Arn": self.arn,
            "Name": self.name,
            "InstanceArn": self.instance_arn,
            "Status": self.status,
            "Tags": visible_tags(self, runtime.now()),
            "IsDefault": False,
        }
        if self.description is not None:
            described["Description"] = self.description
        return described


@dataclass
class PhoneNumber:
    id: str
    arn: str
    phone_number: str
    country_code: str
    number_type: str
    description: str | None
    tags: dict[str, str]
    # Where the number settled last; meaningless while the first claim is pending.
    target: Target | None
    status: str
    status_message: str | None = None
    pending: PendingMove | None = None
    contact_flow_id: str | None = None
    order: int = 0
    tag_writes: list[TagWrite] = field(default_factory=list)
    # runtime.failed_stale_seconds: reads keep showing this until then, even once the new move has ended.
    lagging: LaggingStatus | None = None

    def settle(self, now: float) -> None:
        move = self.pending
        if move is None or now < move.completes_at:
            return
        if not move.is_move:
            if move.new_description is not None:
                self.description = move.new_description
        elif move.outcome == CLAIMED:
            self.target, self.status, self.status_message = move.to_target, CLAIMED, None
        else:
            self.target, self.status, self.status_message = move.from_target, FAILED, move.failure_message
        self.pending = None
        runtime.move_settled(self.arn)

    def is_moving(self, now: float) -> bool:
        self.settle(now)
        return self.pending is not None

    def visible_state(self, now: float) -> tuple[Target, str, str | None]:
        """What DescribePhoneNumber shows at ``now``: (target, status, message)."""
        self.settle(now)
        if self.lagging is not None:
            if now < self.lagging.until:
                return self.lagging.target, FAILED, self.lagging.message
            self.lagging = None
        move = self.pending
        if move is None:
            assert self.target is not None
            return self.target, self.status, self.status_message
        if move.from_target is not None and now < move.shows_new_target_at:
            # The real service answers from a replica that lags the accepted update.
            return move.from_target, move.from_status, move.from_message
        return move.to_target, IN_PROGRESS, None

    def final_target(self) -> Target:
        """Where the number ends up once any move in flight completes."""
        move = self.pending
        if move is None:
            assert self.target is not None
            return self.target
        if move.outcome == CLAIMED or move.from_target is None:
            return move.to_target
        return move.from_target

    def summary(self, now: float, *, with_status: bool) -> dict[str, Any]:
        target, status, message = self.visible_state(now)
        summary: dict[str, Any] = {
            "PhoneNumberId": self.id,
            "PhoneNumberArn": self.arn,
            "PhoneNumber": self.phone_number,
            "PhoneNumberCountryCode": self.country_code,
            "PhoneNumberType": self.number_type,
            "TargetArn": target.arn,
        }
        if not runtime.omit_instance_id:
            summary["InstanceId"] = target.instance_id
        if self.description is not None:
            summary["PhoneNumberDescription"] = self.description
        if with_status:
            summary["Tags"] = visible_tags(self, now)
            summary["PhoneNumberStatus"] = {"Status": status}
            if message is not None:
                summary["PhoneNumberStatus"]["Message"] = message
        return summary


@functools.cache
def tdg_statuses() -> tuple[str, ...]:
    model = Loader().load_service_model("connect", "service-2")
    return tuple(model["shapes"]["TrafficDistributionGroupStatus"]["enum"])


def validate_tdg_status(status: str) -> str:
    if status not in tdg_statuses():
        raise ValueError(
            f"{status!r} is not a TrafficDistributionGroupStatus; use one of {', '.join(tdg_statuses())}"
        )
    return status


def parse_arn(arn: str) -> tuple[str, str, str]:
    """(region, account, resource) of a Connect ARN, or InvalidParameterException."""
    match = ARN.match(arn)
    if not match:
        raise InvalidParameterException(f"Invalid ARN: {arn}")
    return match["region"], match["account"], match["resource"]


def country_for(phone_number: str) -> str:
    digits = phone_number.lstrip("+")
    for length in (3, 2, 1):
        country = COUNTRY_BY_DIAL_CODE.get(digits[:length])
        if country:
            return country
    return "US"


def number_type_for(phone_number: str) -> str:
    digits = phone_number.lstrip("+")
    if digits.startswith("1") and digits[1:4] in NANP_TOLL_FREE_AREA_CODES:
        return "TOLL_FREE"
    return "DID"


def fingerprint(params: dict[str, Any]) -> str:
    """Request parameters minus the token, with a phone-number ARN reduced to its ID."""
    comparable = {key: value for key, value in params.items() if key != "ClientToken"}
    phone_number_id = comparable.get("PhoneNumberId")
    if isinstance(phone_number_id, str) and phone_number_id.startswith("arn:"):
        comparable["PhoneNumberId"] = phone_number_id.rsplit("/", 1)[-1]
    return json.dumps(comparable, sort_keys=True, default=str)


def page(items: list[Any], next_token: str | None, limit: int) -> tuple[list[Any], str | None]:
    try:
        start = int(next_token) if next_token else 0
    except ValueError:
        raise InvalidParameterException("Invalid NextToken") from None
    end = start + limit
    return items[start:end], (str(end) if end < len(items) else None)


class ConnectPhoneNumberBackend(BaseBackend):
    """Callers hold ``runtime.EMULATOR_LOCK``; the response layer takes it for every request."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.phone_numbers: dict[str, PhoneNumber] = {}
        self.traffic_distribution_groups: dict[str, TrafficDistributionGroup] = {}
        self.contact_flows: dict[str, ContactFlow] = {}
        self.offered_numbers: dict[str, tuple[str, str]] = {}
        self.idempotent_answers: dict[tuple[str, str], tuple[str, Any]] = {}
        self.creation_order = count()
        # "Phone numbers per instance", as Service Quotas reports it for this account and Region, and the
        # instances whose quota was raised (or lowered) on their own.
        self.phone_numbers_per_instance = DEFAULT_PHONE_NUMBERS_PER_INSTANCE
        self.instance_phone_number_quotas: dict[str, int] = {}

    # ---- lookups ----------------------------------------------------------------------------------

    def _arn(self, resource: str) -> str:
        partition = get_partition(self.region_name)
        return f"arn:{partition}:connect:{self.region_name}:{self.account_id}:{resource}"

    @property
    def instances(self) -> dict[str, Instance]:
        return connect_backends[self.account_id][self.region_name].instances

    def _local_resource(self, arn: str) -> str:
        """The resource part of an ARN that must belong to this account and Region."""
        region, account, resource = parse_arn(arn)
        if region != self.region_name or account != self.account_id:
            raise InvalidParameterException(
                f"{arn} is not in account {self.account_id} and Region {self.region_name}"
            )
        return resource

    def get_instance(self, instance_id_or_arn: str) -> Instance:
        instance_id = instance_id_or_arn
        if instance_id_or_arn.startswith("arn:"):
            match = INSTANCE_RESOURCE.match(self._local_resource(instance_id_or_arn))
            if not match:
                raise InvalidParameterException(f"Not an instance ARN: {instance_id_or_arn}")
            instance_id = match["id"]
        instance = self.instances.get(instance_id)
        if instance is None:
            raise ResourceNotFoundException(f"Instance not found: {instance_id_or_arn}")
        return instance

    def get_traffic_distribution_group(self, tdg_id_or_arn: str) -> TrafficDistributionGroup:
        tdg_id = tdg_id_or_arn
        if tdg_id_or_arn.startswith("arn:"):
            match = TDG_RESOURCE.match(self._local_resource(tdg_id_or_arn))
            if not match:
                raise InvalidParameterException(f"Not a traffic distribution group ARN: {tdg_id_or_arn}")
            tdg_id = match["id"]
        tdg = self.traffic_distribution_groups.get(tdg_id)
        if tdg is None:
            raise ResourceNotFoundException(f"Traffic distribution group not found: {tdg_id_or_arn}")
        return tdg

    def get_phone_number(self, phone_number_id_or_arn: str) -> PhoneNumber:
        number_id = phone_number_id_or_arn
        if phone_number_id_or_arn.startswith("arn:"):
            region, account, resource = parse_arn(phone_number_id_or_arn)
            match = PHONE_NUMBER_RESOURCE.match(resource)
            if not match:
                raise InvalidParameterException(f"Not a phone number ARN: {phone_number_id_or_arn}")
            if (region, account) != (self.region_name, self.account_id):
                raise ResourceNotFoundException(f"Phone number not found: {phone_number_id_or_arn}")
            number_id = match["id"]
        number = self.phone_numbers.get(number_id)
        if number is None:
            raise ResourceNotFoundException(f"Phone number not found: {phone_number_id_or_arn}")
        return number

    def get_contact_flow(self, instance_id_or_arn: str, flow_id_or_arn: str) -> ContactFlow:
        instance = self.get_instance(instance_id_or_arn)
        flow_id = flow_id_or_arn
        if flow_id_or_arn.startswith("arn:"):
            match = CONTACT_FLOW_RESOURCE.match(self._local_resource(flow_id_or_arn))
            if not match:
                raise InvalidParameterException(f"Not a contact flow ARN: {flow_id_or_arn}")
            flow_id = match["id"]
        flow = self.contact_flows.get(flow_id)
        if flow is None or flow.instance_id != instance.id:
            raise ResourceNotFoundException(
                f"Contact flow {flow_id_or_arn} not found in instance {instance.id}"
            )
        return flow

    def resolve_target(
        self, target_arn: str | None, instance_id: str | None, *, require_active: bool = True
    ) -> Target:
        """The instance or traffic distribution group a request names.

        ``require_active``: claims and moves need an ACTIVE group. The Administrator Guide ("Assign claimed
        phone numbers to traffic distribution groups", why UpdatePhoneNumber fails) documents the refusal as
        ResourceNotFoundException, and "Create traffic distribution groups" says numbers can be claimed to a
        group only when its Status is ACTIVE; the emulator refuses ClaimPhoneNumber the same way.
        """
        if bool(target_arn) == bool(instance_id):
            raise InvalidParameterException("Provide exactly one of TargetArn and InstanceId")
        if instance_id:
            instance = self.get_instance(instance_id)
            return Target(instance.arn, instance.id)
        assert target_arn is not None
        resource = self._local_resource(target_arn)
        if INSTANCE_RESOURCE.match(resource):
            instance = self.get_instance(target_arn)
            return Target(instance.arn, instance.id)
        if TDG_RESOURCE.match(resource):
            tdg = self.get_traffic_distribution_group(target_arn)
            if require_active and tdg.status != TDG_ACTIVE:
                raise ResourceNotFoundException(
                    f"Traffic distribution group {tdg.id} is {tdg.status}, not ACTIVE: {target_arn}"
                )
            return Target(tdg.arn, tdg.instance_id)
        raise InvalidParameterException(
            f"TargetArn must be an instance or traffic distribution group: {target_arn}"
        )

    def once_per_token(self, operation: str, params: dict[str, Any], perform: Any) -> Any:
        """Run ``perform`` once per (operation, ClientToken); replay its answer for identical retries."""
        token = params.get("ClientToken")
        if not token:
            return perform()
        key = (operation, token)
        request = fingerprint(params)
        if key in self.idempotent_answers:
            first_request, answer = self.idempotent_answers[key]
            if first_request != request:
                raise IdempotencyException(
                    f"ClientToken {token} was already used for a different {operation} request"
                )
            return answer
        answer = perform()
        self.idempotent_answers[key] = (request, answer)
        return answer

    # ---- phone numbers ----------------------------------------------------------------------------

    def claim_phone_number(
        self,
        phone_number: str,
        target: Target,
        description: str | None,
        tags: dict[str, str] | None,
        phone_number_id: str | None = None,
        claimed_immediately: bool = False,
    ) -> PhoneNumber:
        if not E164.match(phone_number or ""):
            raise InvalidParameterException(f"PhoneNumber must be in E.164 format: {phone_number}")
        for existing in self.phone_numbers.values():
            if existing.phone_number == phone_number and existing.id != phone_number_id:
                raise InvalidParameterException(f"Phone number {phone_number} is not available to claim")
        number_id = phone_number_id or str(uuid.uuid4())
        country, number_type = self.offered_numbers.get(
            phone_number, (country_for(phone_number), number_type_for(phone_number))
        )
        number = PhoneNumber(
            id=number_id,
            arn=self._arn(f"phone-number/{number_id}"),
            phone_number=phone_number,
            country_code=country,
            number_type=number_type,
            description=description,
            tags=dict(tags or {}),
            target=target if claimed_immediately else None,
            status=CLAIMED if claimed_immediately else IN_PROGRESS,
            order=next(self.creation_order),
        )
        if not claimed_immediately:
            now = runtime.now()
            number.pending = PendingMove(
                from_target=None,
                to_target=target,
                started_at=now,
                shows_new_target_at=now,
                completes_at=now + runtime.move_seconds,
                outcome=CLAIMED,
                failure_message=None,
            )
            self._record_move(number, number.pending)
        self.phone_numbers[number_id] = number
        return number

    def _record_move(self, number: PhoneNumber, move: PendingMove) -> None:
        runtime.record_move(
            MoveRecord(
                phone_number_id=number.id,
                phone_number_arn=number.arn,
                from_target=move.from_target.arn if move.from_target else None,
                to_target=move.to_target.arn,
                started_at=move.started_at,
                completes_at=move.completes_at,
                outcome=move.outcome,
            )
        )

    def _refuse_while_moving(self, number: PhoneNumber, action: str) -> None:
        if number.is_moving(runtime.now()):
            raise ResourceInUseException(
                f"Cannot {action} phone number {number.id} while its status is IN_PROGRESS",
                resource_id=number.arn,
                resource_type="PHONE_NUMBER",
            )

    def phone_number_quota(self, instance_id: str) -> int:
        return self.instance_phone_number_quotas.get(instance_id, self.phone_numbers_per_instance)

    def numbers_on_instance(self, instance_id: str, *, excluding: str | None = None) -> int:
        """Numbers the instance holds or is about to (a move to it in flight), its groups' included."""
        now = runtime.now()
        held = 0
        for number in self.phone_numbers.values():
            number.settle(now)
            if number.id != excluding and number.final_target().instance_id == instance_id:
                held += 1
        return held

    def update_phone_number(self, number: PhoneNumber, target: Target) -> PhoneNumber:
        self._refuse_while_moving(number, "update")
        assert number.target is not None
        now = runtime.now()
        move_seconds = runtime.move_seconds
        failure_message = runtime.take_move_failure()
        if (
            failure_message is None
            and target.instance_id != number.target.instance_id
            and self.numbers_on_instance(target.instance_id, excluding=number.id)
            >= self.phone_number_quota(target.instance_id)
        ):
            # Judged when the move is accepted (the harsher reading: a slot freed meanwhile does not help). A
            # move within the instance (onto its own group, say) adds no number to it.
            failure_message = full_target_message(target.arn)
        # The move's outcome replaces the previous one's (a FAILED status stays until this move ends); a
        # move to the target the number is already on is an ordinary move (docs/reliability.md, assumptions).
        # A replica may show an earlier FAILED for longer still (runtime.failed_stale_seconds): past the end
        # of a short move, until it catches up.
        number.lagging = None
        if number.status == FAILED and runtime.failed_stale_seconds > 0:
            number.lagging = LaggingStatus(
                now + runtime.failed_stale_seconds, number.target, number.status_message
            )
        number.pending = PendingMove(
            from_target=number.target,
            to_target=target,
            started_at=now,
            shows_new_target_at=now + min(runtime.stale_seconds, move_seconds),
            completes_at=now + move_seconds,
            outcome=FAILED if failure_message is not None else CLAIMED,
            failure_message=failure_message,
            from_status=number.status,
            from_message=number.status_message,
        )
        # The real service forgets the inbound flow when a number changes hands.
        number.contact_flow_id = None
        self._record_move(number, number.pending)
        return number

    def release_phone_number(self, number: PhoneNumber) -> None:
        self._refuse_while_moving(number, "release")
        del self.phone_numbers[number.id]

    def update_phone_number_metadata(self, number: PhoneNumber, description: str | None) -> None:
        """In flight like a move: PhoneNumberStatus documents IN_PROGRESS for "a ClaimPhoneNumber,
        UpdatePhoneNumber, or UpdatePhoneNumberMetadata operation" that has not completed, and the operation's
        own page says to call DescribePhoneNumber to verify its status. It takes ``move_seconds`` (its
        length is not documented), shows the old state during the stale window like a move, refuses other
        changes while in flight, and the new description shows once it completes."""
        self._refuse_while_moving(number, "update the metadata of")
        assert number.target is not None
        now = runtime.now()
        number.pending = PendingMove(
            from_target=number.target,
            to_target=number.target,
            started_at=now,
            shows_new_target_at=now + min(runtime.stale_seconds, runtime.move_seconds),
            completes_at=now + runtime.move_seconds,
            outcome=number.status,
            failure_message=number.status_message,
            from_status=number.status,
            from_message=number.status_message,
            is_move=False,
            new_description=description,
        )

    def list_phone_numbers(
        self,
        target: Target | None,
        country_codes: list[str] | None,
        number_types: list[str] | None,
        prefix: str | None,
    ) -> list[dict[str, Any]]:
        now = runtime.now()
        # An instance lists the numbers of its traffic distribution groups too.
        target_is_instance = target is not None and target.arn.endswith(f":instance/{target.instance_id}")
        listed = []
        for number in sorted(self.phone_numbers.values(), key=lambda n: n.order):
            shown_target, _, _ = number.visible_state(now)
            if target is not None and not (
                shown_target.arn == target.arn
                or (target_is_instance and shown_target.instance_id == target.instance_id)
            ):
                continue
            if country_codes and number.country_code not in country_codes:
                continue
            if number_types and number.number_type not in number_types:
                continue
            if prefix and not number.phone_number.lstrip("+").startswith(prefix.lstrip("+")):
                continue
            listed.append(number.summary(now, with_status=False))
        return listed

    def search_available_phone_numbers(
        self, country_code: str, number_type: str, prefix: str | None
    ) -> list[dict[str, str]]:
        dial_code = DIAL_CODES.get(country_code)
        if dial_code is None:
            return []
        prefix_digits = (prefix or "").lstrip("+")
        if prefix_digits and not (prefix_digits.startswith(dial_code) or dial_code.startswith(prefix_digits)):
            return []
        claimed = {number.phone_number for number in self.phone_numbers.values()}
        if len(prefix_digits) >= E164_DIGITS:
            # A prefix that is a whole number offers just that number, when it is free: how a template's
            # AWS::Connect::PhoneNumber Prefix picks one number.
            candidate = f"+{prefix_digits}"
            if not E164.match(candidate) or candidate in claimed:
                return []
            self.offered_numbers[candidate] = (country_code, number_type)
            return [
                {
                    "PhoneNumber": candidate,
                    "PhoneNumberCountryCode": country_code,
                    "PhoneNumberType": number_type,
                }
            ]
        lead = prefix_digits if len(prefix_digits) > len(dial_code) else dial_code
        if not prefix_digits or len(prefix_digits) <= len(dial_code):
            # Fictional-looking ranges: NANP 555 exchange, otherwise a fixed block per type.
            if dial_code == "1":
                lead += "833555" if number_type == "TOLL_FREE" else "206555"
            else:
                lead += "80055" if number_type == "TOLL_FREE" else "2055"
        free_digits = max(E164_DIGITS - len(lead), 1)
        # A stable starting point per query keeps results the same from run to run.
        seed = int(hashlib.sha256(f"{country_code}/{number_type}/{lead}".encode()).hexdigest(), 16)
        available: list[dict[str, str]] = []
        for offset in range(AVAILABLE_NUMBERS_PER_SEARCH * 2):
            candidate = f"+{lead}{(seed + offset * 7) % 10**free_digits:0{free_digits}d}"
            if candidate in claimed or any(n["PhoneNumber"] == candidate for n in available):
                continue
            self.offered_numbers[candidate] = (country_code, number_type)
            available.append(
                {
                    "PhoneNumber": candidate,
                    "PhoneNumberCountryCode": country_code,
                    "PhoneNumberType": number_type,
                }
            )
            if len(available) == AVAILABLE_NUMBERS_PER_SEARCH:
                break
        return available

    # ---- contact flows ----------------------------------------------------------------------------

    def create_contact_flow(
        self,
        instance_id: str,
        name: str,
        flow_type: str,
        content: str,
        description: str | None = None,
        status: str | None = None,
        tags: dict[str, str] | None = None,
        flow_id: str | None = None,
        state: str | None = None,
    ) -> ContactFlow:
        instance = self.get_instance(instance_id)
        flow_id = flow_id or str(uuid.uuid4())
        flow = ContactFlow(
            id=flow_id,
            arn=f"{instance.arn}/contact-flow/{flow_id}",
            instance_id=instance.id,
            name=name,
            flow_type=flow_type,
            content=content,
            description=description,
            status=status or "PUBLISHED",
            tags=dict(tags or {}),
            state=state or "ACTIVE",
        )
        self.contact_flows[flow_id] = flow
        return flow

    def associate_contact_flow(self, number: PhoneNumber, instance_id: str, flow_id: str) -> None:
        flow = self.get_contact_flow(instance_id, flow_id)
        if not flow.routes_calls:
            # Undocumented: a number routes calls to a published inbound flow (the Administrator Guide's
            # "Choose a flow type"); the harsher reading is that Connect refuses any other.
            raise InvalidParameterException(
                f"Contact flow {flow.id} cannot take a phone number: it is a {flow.flow_type} flow, "
                f"{flow.status}, {flow.state} (a published, active CONTACT_FLOW is needed)"
            )
        self._require_claimed_to(number, flow.instance_id)
        number.contact_flow_id = flow.id

    def disassociate_contact_flow(self, number: PhoneNumber, instance_id: str) -> None:
        instance = self.get_instance(instance_id)
        self._require_claimed_to(number, instance.id)
        number.contact_flow_id = None

    def _require_claimed_to(self, number: PhoneNumber, instance_id: str) -> None:
        # The service's own state, not what a lagging reader shows.
        number.settle(runtime.now())
        if number.pending is not None:
            raise InvalidParameterException(f"Phone number {number.id} is being moved (status IN_PROGRESS)")
        assert number.target is not None
        if number.target.instance_id != instance_id:
            raise InvalidParameterException(
                f"Phone number {number.id} is not claimed to instance {instance_id}"
            )

    def list_flow_associations(self, instance_id: str, resource_type: str | None) -> list[dict[str, str]]:
        instance = self.get_instance(instance_id)
        if resource_type not in (None, "VOICE_PHONE_NUMBER"):
            return []
        associations = []
        for number in sorted(self.phone_numbers.values(), key=lambda n: n.order):
            flow = self.contact_flows.get(number.contact_flow_id or "")
            if flow is not None and flow.instance_id == instance.id:
                associations.append(
                    {"ResourceId": number.arn, "FlowId": flow.arn, "ResourceType": "VOICE_PHONE_NUMBER"}
                )
        return associations

    def batch_get_flow_association(
        self, instance_id: str, resource_ids: list[str], resource_type: str | None
    ) -> list[dict[str, str]]:
        """The flow associations of the given numbers in ``instance_id``. The model types ResourceIds as
        ARNs (resourceArnListMaxLimit100): an ID is refused, the harsher reading of a form not documented
        for voice numbers. A number with no flow in the instance has no summary."""
        if not resource_ids or len(resource_ids) > 100:
            raise InvalidParameterException("ResourceIds must list 1 to 100 resource ARNs")
        for resource_id in resource_ids:
            if not resource_id.startswith("arn:"):
                raise InvalidParameterException(f"Not a resource ARN: {resource_id}")
        wanted = set(resource_ids)
        return [
            association
            for association in self.list_flow_associations(instance_id, resource_type)
            if association["ResourceId"] in wanted
        ]

    # ---- traffic distribution groups --------------------------------------------------------------

    def create_traffic_distribution_group(
        self,
        name: str,
        instance_id: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        tdg_id: str | None = None,
        status: str | None = None,
    ) -> TrafficDistributionGroup:
        instance = self.get_instance(instance_id)
        tdg_id = tdg_id or str(uuid.uuid4())
        tdg = TrafficDistributionGroup(
            tdg_id, self._arn(f"traffic-distribution-group/{tdg_id}"), name, instance.arn, instance.id
        )
        tdg.description = description
        tdg.tags = dict(tags or {})
        if status is not None:
            tdg.pinned_status = validate_tdg_status(status)
        self.traffic_distribution_groups[tdg_id] = tdg
        return tdg

    def delete_traffic_distribution_group(self, tdg: TrafficDistributionGroup) -> None:
        now = runtime.now()
        for number in self.phone_numbers.values():
            number.settle(now)
            if tdg.arn in {number.final_target().arn, number.visible_state(now)[0].arn}:
                raise ResourceInUseException(
                    f"Traffic distribution group {tdg.id} still has claimed phone numbers",
                    resource_id=tdg.arn,
                )
        del self.traffic_distribution_groups[tdg.id]

    # ---- instances --------------------------------------------------------------------------------

    def forget_instance(self, instance_id: str) -> None:
        """Deleting an instance releases its numbers and deletes its flows and groups, as in Connect."""
        now = runtime.now()
        for number in list(self.phone_numbers.values()):
            number.settle(now)
            if number.final_target().instance_id == instance_id:
                del self.phone_numbers[number.id]
        for flow in list(self.contact_flows.values()):
            if flow.instance_id == instance_id:
                del self.contact_flows[flow.id]
        for number in self.phone_numbers.values():
            if number.contact_flow_id and number.contact_flow_id not in self.contact_flows:
                number.contact_flow_id = None
        for tdg in list(self.traffic_distribution_groups.values()):
            if tdg.instance_id == instance_id:
                del self.traffic_distribution_groups[tdg.id]

    def seed_instance(self, instance_id: str, alias: str | None) -> Instance:
        instance = self.instances.get(instance_id)
        if instance is None:
            instance = Instance(
                identity_management_type="CONNECT_MANAGED",
                inbound_calls_enabled=True,
                outbound_calls_enabled=True,
                account_id=self.account_id,
                region=self.region_name,
                instance_alias=alias,
            )
            instance.id = instance_id
            instance.arn = self._arn(f"instance/{instance_id}")
            self.instances[instance_id] = instance
        instance.instance_alias = alias
        instance.instance_access_url = f"https://{alias or instance_id}.my.connect.aws"
        return instance

    # ---- tags -------------------------------------------------------------------------------------

    def taggable(self, arn: str) -> PhoneNumber | TrafficDistributionGroup | ContactFlow | None:
        """The emulator-owned resource an ARN names, or None if moto's own backend owns it."""
        match = ARN.match(arn)
        if not match:
            return None
        resource = match["resource"]
        if PHONE_NUMBER_RESOURCE.match(resource):
            return self.get_phone_number(arn)
        if TDG_RESOURCE.match(resource):
            return self.get_traffic_distribution_group(arn)
        flow_match = CONTACT_FLOW_RESOURCE.match(resource)
        if flow_match:
            return self.get_contact_flow(flow_match["instance"], arn)
        return None


phone_number_backends = BackendDict(ConnectPhoneNumberBackend, "connect")
