"""tests/conftest.py keeps the provider's clients from one test to the next: only while nothing a test did
could show in the next one."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from phone_number_assignment import clients
from tests.conftest import _aws_environment, _provider_clients


def test_a_client_whose_calls_all_succeeded_is_kept_and_one_botocore_retried_is_not(aws_env):
    dynamodb = clients.dynamodb_client()
    dynamodb.list_tables()
    _provider_clients.keep_unless_changed(_aws_environment())
    _provider_clients.take(_aws_environment())
    assert clients.dynamodb_client() is dynamodb

    # A 503 is retried (standard mode, two attempts): its retry drew on the client's retry quota.
    aws_env.control.inject_fault("dynamodb", "ListTables", "ServiceUnavailable", count=2)
    with pytest.raises(ClientError, match="ServiceUnavailable"):
        dynamodb.list_tables()
    _provider_clients.keep_unless_changed(_aws_environment())
    assert clients.dynamodb_client.cache_info().currsize == 0


def test_an_answer_botocore_does_not_retry_keeps_the_client_and_a_changed_environment_does_not(
    aws_env, monkeypatch
):
    dynamodb = clients.dynamodb_client()
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        dynamodb.describe_table(TableName="no-such-table")
    environment = _aws_environment()
    _provider_clients.keep_unless_changed(environment)
    _provider_clients.take(environment)
    assert clients.dynamodb_client() is dynamodb

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    _provider_clients.keep_unless_changed(environment)
    assert clients.dynamodb_client.cache_info().currsize == 0
