"""The IAM policy `make acceptance` needs, derived from what it calls (``python -m acceptance.permissions``
prints it; acceptance/runner-policy.json is that output, and tests/acceptance/test_runner_permissions.py
fails when the two differ).

Derived, not hand-kept:
- the API calls the scenario, its teardown and its CloudFormation backend make (the client methods named
  in acceptance/scenario.py and acceptance/aws.py, mapped to operations with botocore's own models);
- the calls ``sam deploy --resolve-s3`` makes itself (the client methods SAM CLI's deployer and managed
  stack code name; waiters and paginators mapped to the operations they call);
- what CloudFormation does with the runner's credentials for every resource in the provider stack (the
  template as SAM transforms it) and in SAM CLI's managed bucket stack: the create and delete handler
  permissions of those types in the CloudFormation resource schemas that cfn-lint ships.
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
POLICY_FILE = Path(__file__).resolve().parent / "runner-policy.json"
STACKS = [
    "arn:aws:cloudformation:*:*:stack/pna-acceptance-*/*",  # acceptance/aws.py's provider and consumer
    "arn:aws:cloudformation:*:*:stack/aws-sam-cli-managed-default/*",  # sam deploy --resolve-s3's bucket
]
# Read on any stack: the native-number probe asks which stack holds each number it reads (by physical ID,
# so the stack is not known beforehand; IAM checks the stack found, docs/reliability.md).
ANY_STACK = "arn:aws:cloudformation:*:*:stack/*/*"
READ_ANY_STACK = {"cloudformation:DescribeStackResources"}
SAM_TRANSFORM = "arn:aws:cloudformation:*:aws:transform/Serverless-2016-10-31"
# The IAM actions of the S3 operations SAM CLI's uploader uses (S3's IAM action names differ from its API).
S3_ACTIONS = {
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "HeadObject": "s3:GetObject",
    "GetObjectTagging": "s3:GetObjectTagging",
    "ListObjectsV2": "s3:ListBucket",
    "DeleteObject": "s3:DeleteObject",
}
# IAM prefixes that differ from botocore's service names.
IAM_PREFIX = {"service-quotas": "servicequotas"}
# Resource handler permissions kept: the services the two stacks' resources belong to (sqs, cloudwatch: the
# failed-requests queue and the alarms). The handlers also
# list what optional properties would need (KMS keys, VPC, EFS, Firehose delivery): not used here.
HANDLER_SERVICES = ("lambda", "iam", "logs", "s3", "sqs", "cloudwatch")


def _called_methods(source: str, receiver: str | None = None) -> tuple[set[str], set[str], set[str]]:
    """Method names called, and the names passed to get_paginator / get_waiter; only on receivers whose
    source text contains ``receiver`` (when given)."""
    tree = ast.parse(source)
    methods, paginators, waiters = set(), set(), set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if receiver is not None and receiver not in ast.unparse(node.func.value):
            continue
        methods.add(node.func.attr)
        if node.func.attr in ("get_paginator", "get_waiter") and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                (paginators if node.func.attr == "get_paginator" else waiters).add(first.value)
    return methods, paginators, waiters


@functools.cache
def _client(service: str) -> Any:
    # Never called (so no credentials are needed): only its model, method names and waiters are read.
    return boto3.session.Session().client(service, region_name="us-east-1")


def _operations(service: str, sources: list[str], receiver: str | None = None) -> set[str]:
    client = _client(service)
    api = client.meta.method_to_api_mapping
    found = set()
    for source in sources:
        methods, paginators, waiters = _called_methods(source, receiver)
        found |= {api[m] for m in methods if m in api}
        found |= {api[p] for p in paginators if p in api}
        for waiter in waiters:
            if waiter in client.waiter_names:
                found.add(client.get_waiter(waiter).config.operation)
    return found


def _source(module: str) -> str:
    return inspect.getsource(
        sys.modules[module] if module in sys.modules else __import__(module, fromlist=["_"])
    )


# Which client a call in acceptance/ goes to, by the name it is reached through.
SCENARIO_RECEIVERS = {"dynamodb": "dynamodb", "quotas": "service-quotas", "cloudformation": "cloudformation"}


def scenario_actions() -> set[str]:
    sources = [_source("acceptance.scenario"), _source("acceptance.aws")]
    actions = set()
    for receiver, service in SCENARIO_RECEIVERS.items():
        prefix = IAM_PREFIX.get(service, service)
        actions |= {f"{prefix}:{op}" for op in _operations(service, sources, receiver)}
    # Everything else is reached as connect, observer or reader: the two Connect clients.
    for receiver in ("connect", "reader"):
        actions |= {f"connect:{op}" for op in _operations("connect", sources, receiver)}
    return actions


def sam_deploy_actions() -> tuple[set[str], set[str]]:
    """(CloudFormation actions, S3 actions) that ``sam deploy --resolve-s3`` calls itself."""
    sources = [
        _source("samcli.lib.deploy.deployer"),
        _source("samcli.lib.utils.managed_cloudformation_stack"),
    ]
    cloudformation = {f"cloudformation:{op}" for op in _operations("cloudformation", sources)}
    uploader = _source("samcli.lib.package.s3_uploader")
    s3_ops = _operations("s3", [uploader])
    if "create_transfer_manager" in uploader:  # s3transfer: PutObject, or the multipart calls for big files
        s3_ops |= {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
    return cloudformation, {S3_ACTIONS[op] for op in s3_ops}


def provider_resource_types() -> set[str]:
    """The resource types of template.yaml after SAM's transform (what CloudFormation creates)."""
    import os

    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(TEMPLATE.read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/provider.zip"  # what sam package leaves

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # SAM's translator wants one; any will do
    transformed = transform(template, {}, NoManagedPolicies())
    return {resource["Type"] for resource in transformed["Resources"].values()}


def managed_bucket_resource_types() -> set[str]:
    from samcli.lib.bootstrap.bootstrap import _get_stack_template

    template = _get_stack_template()
    parsed = json.loads(template) if template.lstrip().startswith("{") else _yaml(template)
    return {resource["Type"] for resource in parsed["Resources"].values()}


def _yaml(text: str) -> dict:
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(text)


def handler_permissions(types: set[str]) -> set[str]:
    """Create and delete handler permissions of ``types`` (the stacks are created, then deleted)."""
    import cfnlint.data.schemas

    base = Path(cfnlint.data.schemas.__file__).parent
    providers = json.loads((base / "providers" / "us-east-1.json").read_text())
    actions = set()
    for resource_type in types:
        schema = json.loads((base / "resources" / f"{providers[resource_type]}.json").read_text())
        for handler in ("create", "delete"):
            actions |= set(schema.get("handlers", {}).get(handler, {}).get("permissions", []))
    return {
        a
        for a in actions
        if re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", a) and a.split(":")[0] in HANDLER_SERVICES
    }


def policy() -> dict[str, Any]:
    sam_cloudformation, sam_s3 = sam_deploy_actions()
    scenario = scenario_actions()
    stacks = {a for a in scenario | sam_cloudformation if a.startswith("cloudformation:")}
    any_stack = READ_ANY_STACK & scenario
    stacks -= any_stack
    anywhere = {"cloudformation:GetTemplateSummary"} & stacks  # on a template body, not a stack
    resources = handler_permissions(provider_resource_types() | managed_bucket_resource_types()) | sam_s3
    statements = [
        {
            "Sid": "AcceptanceStacks",
            "Effect": "Allow",
            "Action": sorted(stacks - anywhere),
            "Resource": STACKS,
        },
        {"Sid": "ReadAnyStack", "Effect": "Allow", "Action": sorted(any_stack), "Resource": ANY_STACK},
        {
            "Sid": "SamTransform",
            "Effect": "Allow",
            "Action": ["cloudformation:CreateChangeSet"],
            "Resource": SAM_TRANSFORM,
        },
        {"Sid": "TemplateSummary", "Effect": "Allow", "Action": sorted(anywhere), "Resource": "*"},
        # What CloudFormation does with these credentials: the provider's function, role and log group,
        # and the artifact bucket sam deploy --resolve-s3 creates once.
        {"Sid": "StackResources", "Effect": "Allow", "Action": sorted(resources), "Resource": "*"},
        # The scenario and its teardown: Connect (the account's numbers), the ownership table (read-only),
        # Service Quotas (read-only).
        {
            "Sid": "ScenarioCalls",
            "Effect": "Allow",
            "Action": sorted(a for a in scenario if not a.startswith("cloudformation:")),
            "Resource": "*",
        },
    ]
    return {"Version": "2012-10-17", "Statement": [s for s in statements if s["Action"]]}


def main() -> None:
    print(json.dumps(policy(), indent=2))


if __name__ == "__main__":
    main()
