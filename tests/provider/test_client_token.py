import uuid

from phone_number_assignment.client_token import client_token

ARN_PREFIX = "arn:aws:connect:us-east-1:123456789012"
BASE = {
    "stack_id": "arn:aws:cloudformation:us-east-1:123456789012:stack/consumer/3f1c2d4e-0000-4000-8000-01",
    "logical_id": "MainLine",
    "request_id": "6b0a1f52-9c3d-4e7b-8a21-0d5e4c3b2a19",
    "phone_number_arn": f"{ARN_PREFIX}:phone-number/e6b2a8d4-3c1f-4e9a-b7d0-2a5c8f1e6d93",
    "target_arn": f"{ARN_PREFIX}:instance/8e4f2d6a-1b9c-4f7e-a3d5-c02e7b91f846",
}


def test_the_same_request_always_derives_the_same_uuid_token():
    token = client_token(**BASE)
    assert token == client_token(**BASE)
    assert str(uuid.UUID(token)) == token
    assert len(token) <= 500


def test_every_input_changes_the_token():
    token = client_token(**BASE)
    for key in BASE:
        assert client_token(**{**BASE, key: BASE[key] + "x"}) != token, key


def test_a_rollback_request_does_not_reuse_the_update_token():
    update = client_token(**BASE)
    rollback = client_token(**{**BASE, "request_id": "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b"})
    assert update != rollback
