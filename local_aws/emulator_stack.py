"""`make emulator-stack`: deploy a template's Custom::PhoneNumberAssignment resources as a stack on a running
`make emulator`, so that a stack holds numbers there and `make status`, `make plan` and drift can be tried.

    python -m local_aws.emulator_stack --endpoint-url http://127.0.0.1:4599 --template samples/stack.yaml \\
        --stack emulator-stack --param PhoneNumberId=... --param TargetArn=... [--delete]

CloudFormation's part is played as the tests play it: the template is rendered for the parameter values
(local_aws.template_render), local_aws.stack sends each resource the request a stack operation would (a
Create for a new logical ID, an Update for changed properties, a Delete for one no longer declared, nothing
for the rest) and tells the emulator what CloudFormation would then say of the stack and its resources
(DescribeStacks, DescribeStackResource), and the provider's handler runs in this process, as in `make demo`,
with every client pointed at the emulator. A request that fails rolls the operation back, as CloudFormation
does. What the stack declared is kept in STATE_DIR between runs (CloudFormation's own memory of it); a
stack the emulator no longer knows (it was restarted) starts afresh.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from local_aws.cloudformation import ResponseReceiver, stack_arn, trusting
from local_aws.connect.control import HttpControl
from local_aws.stack import LocalCustomResourceStack, Resource, Response
from local_aws.template_render import TemplateError, load, render

REPO_ROOT = Path(__file__).resolve().parents[1]
PROVIDER_CODE_URI = REPO_ROOT / "provider"
STATE_DIR = REPO_ROOT / ".aws-sam" / "emulator-stacks"
DEFAULT_REGION = "us-east-1"
LAMBDA_TIMEOUT_SECONDS = 900


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make emulator-stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint-url", required=True, help="the running emulator (make emulator)")
    parser.add_argument("--template", type=Path, default=REPO_ROOT / "samples" / "stack.yaml")
    parser.add_argument("--stack", default="emulator-stack", help="the stack's name (default emulator-stack)")
    parser.add_argument("--param", action="append", default=[], help="Key=Value, a parameter value")
    parser.add_argument("--delete", action="store_true", help="delete the stack (every resource's Delete)")
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def point_at(endpoint_url: str) -> None:
    """Every client of this process, the provider's included, talks to the emulator with dummy keys."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    for service in ("CONNECT", "DYNAMODB", "CLOUDFORMATION"):
        os.environ.pop(f"AWS_ENDPOINT_URL_{service}", None)  # a stale per-service one would win
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "emulator")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "emulator")
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # this command prints its own story
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


def emulator_account() -> str:
    """The account the emulator serves these keys as (the seeded world's, under `make emulator`)."""
    return boto3.client("sts").get_caller_identity()["Account"]


def stack_known(stack_id: str) -> bool:
    try:
        boto3.client("cloudformation").describe_stacks(StackName=stack_id)
    except ClientError:
        return False
    return True


def load_state(path: Path) -> tuple[str | None, dict[str, Resource]]:
    """The stack ID and resources recorded for this stack name, if the emulator still knows that stack."""
    if not path.is_file():
        return None, {}
    saved = json.loads(path.read_text())
    if not stack_known(saved["stack_id"]):
        return None, {}
    return saved["stack_id"], {
        logical_id: Resource(entry["physical_id"], entry["properties"])
        for logical_id, entry in saved["resources"].items()
    }


def save_state(path: Path, stack_id: str, resources: dict[str, Resource]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = {k: {"physical_id": r.physical_id, "properties": r.properties} for k, r in resources.items()}
    path.write_text(json.dumps({"stack_id": stack_id, "resources": entries}, indent=2) + "\n")


def parameters(values: list[str]) -> dict[str, str]:
    found = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise TemplateError(f"parameters are Key=Value pairs; got {value!r}")
        found[name] = text
    return found


def show(logical_id: str, request: str, response: Response) -> None:
    outcome = f"{request} {response.status}"
    print(f"  {logical_id}: {outcome}{f': {response.reason}' if response.reason else ''}")
    if response.ok and request != "Delete":
        print(f"    {response.data.get('PhoneNumber', '')} on {response.data.get('TargetArn', '')}")


def deploy(stack: LocalCustomResourceStack, declared: dict[str, dict[str, Any]]) -> bool:
    """One stack operation towards ``declared``; rolled back, as CloudFormation would, if a request fails."""
    creating = not stack.resources
    stack.set_status("CREATE_IN_PROGRESS" if creating else "UPDATE_IN_PROGRESS")
    before = {k: Resource(r.physical_id, dict(r.properties)) for k, r in stack.resources.items()}
    done: list[tuple[str, str]] = []
    failed = False
    for logical_id, properties in declared.items():
        if logical_id not in stack.resources:
            request, response = "Create", stack.create(logical_id, properties)
        elif stack.resources[logical_id].properties != properties:
            request, response = "Update", stack.update(logical_id, properties)
        else:
            continue
        show(logical_id, request, response)
        if not response.ok:
            failed = True
            break
        done.append((logical_id, request))
    if not failed:
        # Resources no longer declared are deleted once the rest succeeded (UPDATE_COMPLETE_CLEANUP).
        for logical_id in [k for k in stack.resources if k not in declared]:
            show(logical_id, "Delete", stack.delete(logical_id))
        stack.set_status("CREATE_COMPLETE" if creating else "UPDATE_COMPLETE")
        return True
    stack.set_status("ROLLBACK_IN_PROGRESS" if creating else "UPDATE_ROLLBACK_IN_PROGRESS")
    for logical_id, request in reversed(done):
        if request == "Create":
            show(logical_id, "Delete (rollback)", stack.delete(logical_id))
        else:
            show(logical_id, "Update (rollback)", stack.update(logical_id, before[logical_id].properties))
    stack.set_status("ROLLBACK_COMPLETE" if creating else "UPDATE_ROLLBACK_COMPLETE")
    return False


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    point_at(args.endpoint_url)
    try:
        account = emulator_account()
    except (BotoCoreError, ClientError) as error:
        print(f"error: no emulator answers at {args.endpoint_url} ({error}); start it with `make emulator`.")
        return 1
    region = os.environ["AWS_DEFAULT_REGION"]
    state_file = args.state_dir / f"{args.stack}.json"
    declared: dict[str, dict[str, Any]] = {}
    if not args.delete:
        try:
            template = load(args.template)
            declared = render(template, region=region, account=account, **parameters(args.param))
        except (TemplateError, OSError, yaml.YAMLError) as error:
            print(f"error: {args.template}: {error}")
            return 2

    # Before the stand-in below tells the emulator of the stack: whether the emulator knew it already.
    recorded_id, recorded = load_state(state_file)
    # A stack keeps its ID (the name plus a UUID) for life; a new one gets a new UUID, as in CloudFormation.
    stack_id = recorded_id or stack_arn(args.stack, region=region, account_id=account)
    if args.delete and not recorded:
        print(f"Stack {args.stack} holds nothing on the emulator at {args.endpoint_url}: nothing to delete.")
        return 0

    with ExitStack() as running:
        receiver = running.enter_context(ResponseReceiver())
        running.enter_context(trusting(receiver))
        # Imported the way Lambda does (CodeUri on the path), once the environment points at the emulator.
        sys.path.insert(0, str(PROVIDER_CODE_URI))
        from phone_number_assignment.app import handler

        stack = LocalCustomResourceStack(
            handler,
            receiver,
            stack_name=args.stack,
            region=region,
            account_id=account,
            timeout_seconds=LAMBDA_TIMEOUT_SECONDS,
        )
        # The emulator hears of the stack under its lasting ID only.
        stack.stack_id = stack_id
        stack.control = HttpControl(args.endpoint_url)
        stack.resources = recorded
        if args.delete:
            stack.set_status("DELETE_IN_PROGRESS")
        if args.delete:
            print(f"Deleting stack {stack_id}")
            ok = True
            for logical_id in list(stack.resources):
                response = stack.delete(logical_id)
                show(logical_id, "Delete", response)
                ok = ok and response.ok
            stack.set_status("DELETE_COMPLETE" if ok else "DELETE_FAILED")
        else:
            print(f"Deploying {os.path.relpath(args.template)} as stack {stack_id}")
            ok = deploy(stack, declared)
        save_state(state_file, stack_id, stack.resources)
    print(f"Stack {args.stack}: {stack.stack_status}")
    if ok and not args.delete:
        print(
            "Try: make status (every number and its owner), then move a number by hand and run it again "
            "(drift); make plan TEMPLATE=... PARAMS=... STACK=" + args.stack + " previews a change. "
            f"Point them at the emulator: AWS_ENDPOINT_URL={args.endpoint_url} AWS_ACCESS_KEY_ID=x "
            f"AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION={region}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
