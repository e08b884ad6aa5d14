"""Asynchronous claims and moves: IN_PROGRESS, the stale window, FAILED moves, idempotency, errors.

Timing assertions are about order only; delays are long enough that "right after the call" lands
inside them even on a loaded machine, and every wait polls with a generous timeout.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from connect_emulator_helpers import (
    ACCOUNT_ID,
    claim_number,
    create_instance,
    error_of,
    summary,
    wait_for,
    wait_until_settled,
)

OBSERVABLE_MOVE_SECONDS = 1.5
MISSING_ID = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def two_instances(emulated_connect: Any) -> tuple[dict[str, str], dict[str, str]]:
    return create_instance(emulated_connect), create_instance(emulated_connect)


def test_claim_is_in_progress_before_claimed(connect_emulator: Any, emulated_connect: Any) -> None:
    instance = create_instance(emulated_connect)
    connect_emulator.control.configure(move_seconds=OBSERVABLE_MOVE_SECONDS)
    claimed = emulated_connect.claim_phone_number(TargetArn=instance["Arn"], PhoneNumber="+12065550142")

    first = summary(emulated_connect, claimed["PhoneNumberId"])
    assert first["PhoneNumberStatus"] == {"Status": "IN_PROGRESS"}
    assert first["TargetArn"] == instance["Arn"]
    settled = wait_until_settled(emulated_connect, claimed["PhoneNumberId"])
    assert settled["PhoneNumberStatus"] == {"Status": "CLAIMED"}


def test_move_shows_old_target_then_in_progress_then_claimed(
    connect_emulator: Any, emulated_connect: Any, two_instances: Any
) -> None:
    source, destination = two_instances
    number = claim_number(emulated_connect, source["Arn"])
    connect_emulator.control.configure(
        move_seconds=2 * OBSERVABLE_MOVE_SECONDS, stale_seconds=OBSERVABLE_MOVE_SECONDS
    )

    emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"])

    stale = summary(emulated_connect, number["PhoneNumberId"])
    assert (stale["TargetArn"], stale["PhoneNumberStatus"]) == (source["Arn"], {"Status": "CLAIMED"})
    in_progress = wait_for(
        lambda: (s := summary(emulated_connect, number["PhoneNumberId"]))["TargetArn"] != source["Arn"] and s
    )
    assert (in_progress["TargetArn"], in_progress["PhoneNumberStatus"]) == (
        destination["Arn"],
        {"Status": "IN_PROGRESS"},
    )
    assert in_progress["InstanceId"] == destination["Id"]
    claimed = wait_until_settled(emulated_connect, number["PhoneNumberId"])
    assert (claimed["TargetArn"], claimed["PhoneNumberStatus"]) == (destination["Arn"], {"Status": "CLAIMED"})


def test_update_and_release_while_in_progress_are_refused(
    connect_emulator: Any, emulated_connect: Any, two_instances: Any
) -> None:
    source, destination = two_instances
    number = claim_number(emulated_connect, source["Arn"])
    connect_emulator.control.configure(move_seconds=30, stale_seconds=0)
    emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"])

    for attempt in (
        lambda: emulated_connect.update_phone_number(
            PhoneNumberId=number["PhoneNumberId"], TargetArn=source["Arn"]
        ),
        lambda: emulated_connect.release_phone_number(PhoneNumberId=number["PhoneNumberArn"]),
        lambda: emulated_connect.update_phone_number_metadata(
            PhoneNumberId=number["PhoneNumberId"], PhoneNumberDescription="x"
        ),
    ):
        with pytest.raises(ClientError) as excinfo:
            attempt()
        assert error_of(excinfo) == ("ResourceInUseException", 409)
        assert excinfo.value.response["ResourceId"] == number["PhoneNumberArn"]
    assert len(connect_emulator.control.moves()) == 2  # the claim and the one accepted move


def test_update_is_refused_during_the_stale_window_too(
    connect_emulator: Any, emulated_connect: Any, two_instances: Any
) -> None:
    source, destination = two_instances
    number = claim_number(emulated_connect, source["Arn"])
    connect_emulator.control.configure(move_seconds=30, stale_seconds=30)
    emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"])
    assert summary(emulated_connect, number["PhoneNumberId"])["PhoneNumberStatus"] == {"Status": "CLAIMED"}
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.update_phone_number(
            PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"]
        )
    assert error_of(excinfo) == ("ResourceInUseException", 409)


def test_failed_move_stays_on_old_target_and_can_be_retried(
    connect_emulator: Any, emulated_connect: Any, two_instances: Any
) -> None:
    source, destination = two_instances
    number = claim_number(emulated_connect, source["Arn"])
    connect_emulator.control.fail_next_move("The phone number could not be moved")

    emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"])
    failed = wait_until_settled(emulated_connect, number["PhoneNumberId"])
    assert failed["TargetArn"] == source["Arn"]
    assert failed["PhoneNumberStatus"] == {
        "Status": "FAILED",
        "Message": "The phone number could not be moved",
    }
    assert connect_emulator.control.moves()[-1]["outcome"] == "FAILED"

    emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"])
    moved = wait_until_settled(emulated_connect, number["PhoneNumberId"], destination["Arn"])
    assert moved["PhoneNumberStatus"] == {"Status": "CLAIMED"}
    assert [m["outcome"] for m in connect_emulator.control.moves()] == ["CLAIMED", "FAILED", "CLAIMED"]


def test_an_earlier_failed_can_show_past_the_end_of_a_new_move(
    connect_emulator: Any, emulated_connect: Any, two_instances: Any, clock: Any
) -> None:
    source, destination = two_instances
    number = claim_number(emulated_connect, source["Arn"])
    connect_emulator.control.fail_next_move("Carrier said no")
    emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"])
    wait_until_settled(emulated_connect, number["PhoneNumberId"])
    connect_emulator.control.configure(move_seconds=1, stale_seconds=0, failed_stale_seconds=8)

    emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"])

    old_failed = {"Status": "FAILED", "Message": "Carrier said no"}
    for _ in range(3):  # 0, 3 and 6 s after the call: the 1 s move has long ended, the old FAILED shows
        shown = summary(emulated_connect, number["PhoneNumberId"])
        assert (shown["TargetArn"], shown["PhoneNumberStatus"]) == (source["Arn"], old_failed)
        assert emulated_connect.list_phone_numbers_v2(TargetArn=source["Arn"])["ListPhoneNumbersSummaryList"]
        clock.advance(3)
    # The service itself knows better: the move has ended, so another change is accepted, not in use.
    emulated_connect.associate_phone_number_contact_flow(
        PhoneNumberId=number["PhoneNumberArn"],
        InstanceId=destination["Id"],
        ContactFlowId=_flow(emulated_connect, destination["Id"]),
    )
    clock.advance(0.1)  # 9.1 s: past the window
    caught_up = summary(emulated_connect, number["PhoneNumberId"])
    assert (caught_up["TargetArn"], caught_up["PhoneNumberStatus"]) == (
        destination["Arn"],
        {"Status": "CLAIMED"},
    )


def test_an_earlier_claimed_status_is_not_held_by_the_failed_window(
    connect_emulator: Any, emulated_connect: Any, two_instances: Any
) -> None:
    source, destination = two_instances
    number = claim_number(emulated_connect, source["Arn"])
    connect_emulator.control.configure(move_seconds=1, stale_seconds=0, failed_stale_seconds=8)
    emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"])
    assert summary(emulated_connect, number["PhoneNumberId"])["PhoneNumberStatus"] == {
        "Status": "IN_PROGRESS"
    }


def test_a_metadata_update_is_in_flight_like_a_move(
    connect_emulator: Any, emulated_connect: Any, two_instances: Any
) -> None:
    source, destination = two_instances
    number = claim_number(emulated_connect, source["Arn"], PhoneNumberDescription="before")
    connect_emulator.control.configure(move_seconds=2, stale_seconds=0)
    moves_before = len(connect_emulator.control.moves())

    emulated_connect.update_phone_number_metadata(
        PhoneNumberId=number["PhoneNumberId"], PhoneNumberDescription="after"
    )

    in_flight = summary(emulated_connect, number["PhoneNumberId"])
    assert in_flight["PhoneNumberStatus"] == {"Status": "IN_PROGRESS"}
    assert (in_flight["TargetArn"], in_flight["PhoneNumberDescription"]) == (source["Arn"], "before")
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.update_phone_number(
            PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"]
        )
    assert error_of(excinfo) == ("ResourceInUseException", 409)
    done = wait_until_settled(emulated_connect, number["PhoneNumberId"])
    assert (done["TargetArn"], done["PhoneNumberStatus"], done["PhoneNumberDescription"]) == (
        source["Arn"],
        {"Status": "CLAIMED"},
        "after",
    )
    assert len(connect_emulator.control.moves()) == moves_before  # not a move


def test_a_metadata_update_keeps_an_earlier_failed(
    connect_emulator: Any, emulated_connect: Any, two_instances: Any
) -> None:
    # FAILED describes the last Claim or Update, which a metadata update is not.
    source, destination = two_instances
    number = claim_number(emulated_connect, source["Arn"])
    connect_emulator.control.fail_next_move("Carrier said no")
    emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"])
    wait_until_settled(emulated_connect, number["PhoneNumberId"])

    emulated_connect.update_phone_number_metadata(
        PhoneNumberId=number["PhoneNumberId"], PhoneNumberDescription="x"
    )

    done = wait_until_settled(emulated_connect, number["PhoneNumberId"])
    assert (done["TargetArn"], done["PhoneNumberStatus"]) == (
        source["Arn"],
        {"Status": "FAILED", "Message": "Carrier said no"},
    )


def _flow(client: Any, instance_id: str) -> str:
    return client.create_contact_flow(
        InstanceId=instance_id,
        Name="inbound",
        Type="CONTACT_FLOW",
        Content='{"Version": "2019-10-30", "StartAction": "x", "Actions": []}',
    )["ContactFlowId"]


def test_fail_next_move_counts_moves(
    connect_emulator: Any, emulated_connect: Any, two_instances: Any
) -> None:
    source, destination = two_instances
    number = claim_number(emulated_connect, source["Arn"])
    connect_emulator.control.fail_next_move("nope", count=2)
    for _ in range(2):
        emulated_connect.update_phone_number(
            PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"]
        )
        assert (
            wait_until_settled(emulated_connect, number["PhoneNumberId"])["PhoneNumberStatus"]["Status"]
            == "FAILED"
        )
    emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"])
    assert (
        wait_until_settled(emulated_connect, number["PhoneNumberId"])["PhoneNumberStatus"]["Status"]
        == "CLAIMED"
    )


def test_same_token_same_params_replays_the_first_answer(
    connect_emulator: Any, emulated_connect: Any, two_instances: Any
) -> None:
    source, destination = two_instances
    number = claim_number(emulated_connect, source["Arn"])
    connect_emulator.control.configure(move_seconds=30)
    first = emulated_connect.update_phone_number(
        PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"], ClientToken="move-1"
    )
    # A retry while the first is still IN_PROGRESS, even addressed by ARN, is the same request.
    again = emulated_connect.update_phone_number(
        PhoneNumberId=number["PhoneNumberArn"], TargetArn=destination["Arn"], ClientToken="move-1"
    )
    assert {k: again[k] for k in ("PhoneNumberId", "PhoneNumberArn")} == {
        k: first[k] for k in ("PhoneNumberId", "PhoneNumberArn")
    }
    assert len(connect_emulator.control.moves()) == 2


def test_same_token_different_params_is_an_idempotency_error(
    connect_emulator: Any, emulated_connect: Any, two_instances: Any
) -> None:
    source, destination = two_instances
    number = claim_number(emulated_connect, source["Arn"])
    emulated_connect.update_phone_number(
        PhoneNumberId=number["PhoneNumberId"], TargetArn=destination["Arn"], ClientToken="t"
    )
    wait_until_settled(emulated_connect, number["PhoneNumberId"], destination["Arn"])
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.update_phone_number(
            PhoneNumberId=number["PhoneNumberId"], TargetArn=source["Arn"], ClientToken="t"
        )
    assert error_of(excinfo) == ("IdempotencyException", 409)
    assert summary(emulated_connect, number["PhoneNumberId"])["TargetArn"] == destination["Arn"]

    # Tokens are scoped by operation: the same token may name a different claim.
    claimed = emulated_connect.claim_phone_number(
        TargetArn=source["Arn"], PhoneNumber="+12065550111", ClientToken="t"
    )
    replay = emulated_connect.claim_phone_number(
        TargetArn=source["Arn"], PhoneNumber="+12065550111", ClientToken="t"
    )
    assert replay["PhoneNumberId"] == claimed["PhoneNumberId"]
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.claim_phone_number(
            TargetArn=source["Arn"], PhoneNumber="+12065550112", ClientToken="t"
        )
    assert error_of(excinfo) == ("IdempotencyException", 409)
    assert len(emulated_connect.list_phone_numbers_v2(MaxResults=10)["ListPhoneNumbersSummaryList"]) == 2


def test_release_replay_with_same_token_succeeds(emulated_connect: Any) -> None:
    instance = create_instance(emulated_connect)
    number = claim_number(emulated_connect, instance["Arn"])
    emulated_connect.release_phone_number(PhoneNumberId=number["PhoneNumberId"], ClientToken="release-1")
    emulated_connect.release_phone_number(PhoneNumberId=number["PhoneNumberId"], ClientToken="release-1")
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.release_phone_number(PhoneNumberId=number["PhoneNumberId"], ClientToken="release-2")
    assert error_of(excinfo) == ("ResourceNotFoundException", 404)


def test_unknown_number_is_not_found(emulated_connect: Any, two_instances: Any) -> None:
    _, destination = two_instances
    arn = f"arn:aws:connect:us-east-1:{ACCOUNT_ID}:phone-number/{MISSING_ID}"
    for attempt in (
        lambda: emulated_connect.describe_phone_number(PhoneNumberId=MISSING_ID),
        lambda: emulated_connect.describe_phone_number(PhoneNumberId=arn),
        lambda: emulated_connect.update_phone_number(PhoneNumberId=arn, TargetArn=destination["Arn"]),
        lambda: emulated_connect.release_phone_number(PhoneNumberId=MISSING_ID),
    ):
        with pytest.raises(ClientError) as excinfo:
            attempt()
        assert error_of(excinfo) == ("ResourceNotFoundException", 404)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (
            {"TargetArn": "arn:aws:connect:us-east-1:{account}:instance/{missing}"},
            ("ResourceNotFoundException", 404),
        ),
        ({"InstanceId": "{missing}"}, ("ResourceNotFoundException", 404)),
        (
            {"TargetArn": "arn:aws:connect:us-east-1:{account}:traffic-distribution-group/{missing}"},
            ("ResourceNotFoundException", 404),
        ),
        ({"TargetArn": "not-an-arn"}, ("InvalidParameterException", 400)),
        (
            {"TargetArn": "arn:aws:connect:us-east-1:{account}:queue/{missing}"},
            ("InvalidParameterException", 400),
        ),
        (
            {"TargetArn": "arn:aws:connect:eu-west-2:{account}:instance/{source}"},
            ("InvalidParameterException", 400),
        ),
        (
            {"TargetArn": "arn:aws:connect:us-east-1:210987654321:instance/{source}"},
            ("InvalidParameterException", 400),
        ),
        ({}, ("InvalidParameterException", 400)),
        (
            {"TargetArn": "arn:aws:connect:us-east-1:{account}:instance/{source}", "InstanceId": "{source}"},
            ("InvalidParameterException", 400),
        ),
    ],
    ids=[
        "missing-instance-arn",
        "missing-instance-id",
        "missing-tdg",
        "malformed-arn",
        "not-a-target",
        "other-region",
        "other-account",
        "neither",
        "both",
    ],
)
def test_bad_targets(
    connect_emulator: Any,
    emulated_connect: Any,
    two_instances: Any,
    target: dict[str, str],
    expected: tuple[str, int],
) -> None:
    source, _ = two_instances
    number = claim_number(emulated_connect, source["Arn"])
    params = {
        k: v.format(account=ACCOUNT_ID, missing=MISSING_ID, source=source["Id"]) for k, v in target.items()
    }
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.update_phone_number(PhoneNumberId=number["PhoneNumberId"], **params)
    assert error_of(excinfo) == expected
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.claim_phone_number(PhoneNumber="+12065550199", **params)
    assert error_of(excinfo) == expected
    assert len(connect_emulator.control.moves()) == 1


def test_malformed_phone_number_arn_is_invalid(emulated_connect: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        emulated_connect.describe_phone_number(
            PhoneNumberId=f"arn:aws:connect:us-east-1:{ACCOUNT_ID}:queue/{MISSING_ID}"
        )
    assert error_of(excinfo) == ("InvalidParameterException", 400)


def test_arns_with_slashes_route_in_every_path_position(emulated_connect: Any) -> None:
    instance = create_instance(emulated_connect)
    flow = emulated_connect.create_contact_flow(
        InstanceId=instance["Id"], Name="f", Type="CONTACT_FLOW", Content="{}"
    )
    number = claim_number(emulated_connect, instance["Arn"])
    arn = number["PhoneNumberArn"]
    emulated_connect.associate_phone_number_contact_flow(
        PhoneNumberId=arn, InstanceId=instance["Id"], ContactFlowId=flow["ContactFlowId"]
    )
    emulated_connect.disassociate_phone_number_contact_flow(PhoneNumberId=arn, InstanceId=instance["Id"])
    emulated_connect.update_phone_number_metadata(PhoneNumberId=arn, PhoneNumberDescription="d")
    emulated_connect.tag_resource(resourceArn=arn, tags={"k": "v"})
    assert summary(emulated_connect, arn)["Tags"] == {"k": "v"}
    # The metadata update is in flight for a moment, like a move.
    assert wait_until_settled(emulated_connect, arn)["PhoneNumberDescription"] == "d"
    emulated_connect.release_phone_number(PhoneNumberId=arn)


def seed_on(connect_emulator: Any, instance_id: str, count: int, first: int) -> list[str]:
    """``count`` numbers CLAIMED on the instance (seeding ignores the quota, as a world may start full)."""
    ids = [f"{first + index:08d}-0000-4000-8000-000000000000" for index in range(count)]
    connect_emulator.control.seed(
        {
            "phone_numbers": [
                {"id": number_id, "phone_number": f"+1555301{first + index:04d}", "target": instance_id}
                for index, number_id in enumerate(ids)
            ]
        }
    )
    return ids


def test_a_move_onto_a_full_instance_is_accepted_then_fails_and_stays(
    connect_emulator: Any, emulated_connect: Any, two_instances: Any
) -> None:
    source, destination = two_instances
    # "Phone numbers per instance" is 5 in a new account: the destination holds 5 already.
    seed_on(connect_emulator, destination["Id"], 5, first=0)
    [number_id] = seed_on(connect_emulator, source["Id"], 1, first=10)

    # Accepted (no error): the quota shows only in the outcome.
    emulated_connect.update_phone_number(PhoneNumberId=number_id, TargetArn=destination["Arn"])
    failed = wait_until_settled(emulated_connect, number_id)

    assert failed["TargetArn"] == source["Arn"]
    assert failed["PhoneNumberStatus"] == {
        "Status": "FAILED",
        "Message": f"The TargetArn {destination['Arn']} has reached its limit of total claimed numbers",
    }
    assert connect_emulator.control.moves()[-1]["outcome"] == "FAILED"


def test_the_quota_counts_moves_in_flight_and_frees_up_when_a_number_leaves(
    connect_emulator: Any, emulated_connect: Any, two_instances: Any
) -> None:
    source, destination = two_instances
    seed_on(connect_emulator, destination["Id"], 4, first=20)
    first, second = seed_on(connect_emulator, source["Id"], 2, first=30)

    emulated_connect.update_phone_number(PhoneNumberId=first, TargetArn=destination["Arn"])
    # The fifth slot is taken by the move in flight: the next move fails though the first has not finished.
    emulated_connect.update_phone_number(PhoneNumberId=second, TargetArn=destination["Arn"])
    assert wait_until_settled(emulated_connect, first, destination["Arn"])["PhoneNumberStatus"] == {
        "Status": "CLAIMED"
    }
    assert wait_until_settled(emulated_connect, second)["PhoneNumberStatus"]["Status"] == "FAILED"

    # A number leaving frees its slot.
    emulated_connect.update_phone_number(PhoneNumberId=first, TargetArn=source["Arn"])
    wait_until_settled(emulated_connect, first, source["Arn"])
    emulated_connect.update_phone_number(PhoneNumberId=second, TargetArn=destination["Arn"])
    assert wait_until_settled(emulated_connect, second, destination["Arn"])["PhoneNumberStatus"] == {
        "Status": "CLAIMED"
    }


def test_the_quota_is_settable_per_account_and_per_instance(
    connect_emulator: Any, emulated_connect: Any, two_instances: Any
) -> None:
    source, destination = two_instances
    seed_on(connect_emulator, destination["Id"], 5, first=40)
    numbers = seed_on(connect_emulator, source["Id"], 2, first=50)
    control = connect_emulator.control

    control.set_phone_number_quota(6, instance_id=destination["Arn"])
    emulated_connect.update_phone_number(PhoneNumberId=numbers[0], TargetArn=destination["Arn"])
    assert wait_until_settled(emulated_connect, numbers[0])["TargetArn"] == destination["Arn"]
    emulated_connect.update_phone_number(PhoneNumberId=numbers[1], TargetArn=destination["Arn"])
    assert wait_until_settled(emulated_connect, numbers[1])["PhoneNumberStatus"]["Status"] == "FAILED"

    # The account's value applies to every instance without one of its own.
    control.set_phone_number_quota(None, instance_id=destination["Id"])
    control.set_phone_number_quota(100)
    emulated_connect.update_phone_number(PhoneNumberId=numbers[1], TargetArn=destination["Arn"])
    assert wait_until_settled(emulated_connect, numbers[1])["PhoneNumberStatus"] == {"Status": "CLAIMED"}
    with pytest.raises(ValueError, match="needs a value"):
        control.set_phone_number_quota(None)
