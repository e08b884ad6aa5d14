"""The Reason's advice for a FAILED move: Connect's message for a full target is not documented."""

from __future__ import annotations

import pytest

from phone_number_assignment.errors import full_target_advice


@pytest.mark.parametrize(
    "message",
    [
        "The TargetArn arn:aws:connect:us-east-1:123456789012:instance/i has reached its limit of total "
        "claimed numbers",
        "Phone number quota exceeded for this instance",
    ],
)
def test_a_message_that_speaks_of_a_limit_is_read_as_a_full_target(message):
    advice = full_target_advice(message)

    assert advice.startswith("The target holds as many phone numbers as its quota allows")
    assert 'quota "Phone numbers per instance"' in advice
    assert "Service Quotas console" in advice


@pytest.mark.parametrize("message", ["", "Internal failure"])
def test_any_other_message_gets_the_quota_as_a_possible_cause(message):
    advice = full_target_advice(message)

    assert advice.startswith("If the target holds as many phone numbers as its quota allows")
    assert "Service Quotas console" in advice
