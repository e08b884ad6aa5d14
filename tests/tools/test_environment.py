"""make status, make export and make plan run with boto3 and PyYAML alone: tools/requirements.txt pins them
and what they need as constraints.txt does, and the tools import nothing else, even while they run against the
emulator.

The tools run here under the dev venv's interpreter with an import hook that refuses every module outside
the standard library, boto3's and PyYAML's own dependencies and the project's tools/ and
phone_number_assignment: a tool that needed anything else (Powertools through the provider's records.py or
stacks.py, cfn-lint, moto...) fails to run."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from importlib import metadata
from pathlib import Path

import pytest

from local_aws.cloudformation import stack_arn
from tests.conftest import ACCOUNT, REGION

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)\s*$")
# The dev environment's heavy parts that must never come with the tools.
NEVER = (
    "moto",
    "samcli",
    "hypothesis",
    "crhelper",
    "aws_lambda_powertools",
    "aws_xray_sdk",
    "cfnlint",
)


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[match[1].lower().replace("_", "-")] = match[2]
    return found


def closure(name: str) -> set[str]:
    """The distributions ``name`` needs (no extras), itself included, as installed in the dev venv."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop().lower().replace("_", "-")
        if current in seen:
            continue
        seen.add(current)
        for requirement in metadata.requires(current) or []:
            if "extra ==" in requirement:
                continue
            marker = requirement.partition(";")[2].strip()
            if marker and not _marker_holds(marker):
                continue
            todo.append(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0])
    return seen


def _marker_holds(marker: str) -> bool:
    # boto3's closure only uses python_version markers (e.g. urllib3's "< 3.10" alternative).
    match = re.fullmatch(r'python_version\s*([<>=!]=?)\s*"([\d.]+)"', marker)
    assert match, f"unexpected marker {marker!r}"
    version = tuple(int(part) for part in match[2].split("."))
    here = sys.version_info[: len(version)]
    return {
        "<": here < version,
        "<=": here <= version,
        ">": here > version,
        ">=": here >= version,
        "==": here == version,
        "!=": here != version,
    }[match[1]]


TOOLS_NEED = closure("boto3") | closure("pyyaml")


def test_the_tools_pin_boto3_and_its_dependencies_exactly_as_constraints_do():
    tools, constraints = pins(ROOT / "tools/requirements.txt"), pins(ROOT / "constraints.txt")

    assert tools, "tools/requirements.txt pins nothing"
    assert {name: constraints.get(name) for name in tools} == tools
    assert set(tools) == TOOLS_NEED


def allowed_modules() -> list[str]:
    """Top-level modules the tools may import: the standard library, boto3's and PyYAML's closures', the
    project's."""
    distributions = TOOLS_NEED
    tops = {
        top
        for top, owners in metadata.packages_distributions().items()
        if any(owner.lower().replace("_", "-") in distributions for owner in owners)
    }
    return sorted(set(sys.stdlib_module_names) | tops | {"tools", "phone_number_assignment"})


RUNNER = """
import importlib.abc, json, os, runpy, sys
allowed = set(json.loads(os.environ["ALLOWED_MODULES"]))
refused = []
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in allowed:
            refused.append(name)
            raise ModuleNotFoundError(f"No module named {name!r} (not in the tools' environment)", name=name)
        return None
sys.meta_path.insert(0, Refuse())
before = set(sys.modules)
sys.argv = sys.argv[1:]
code = 0
try:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
finally:
    with open(os.environ["IMPORT_REPORT"], "w") as report:
        json.dump({"code": code, "refused": refused, "loaded": sorted(set(sys.modules) - before)}, report)
"""


@pytest.fixture
def estate(aws_env, tmp_path) -> dict[str, str]:
    instance, flow, number = (str(uuid.uuid4()) for _ in range(3))
    aws_env.control.seed(
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "instances": [{"id": instance, "alias": "alpha"}],
            "contact_flows": [{"id": flow, "instance_id": instance, "name": "Main"}],
            "phone_numbers": [
                {"id": number, "phone_number": "+15555559100", "target": instance, "contact_flow_id": flow}
            ],
        }
    )
    instance_arn = f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/{instance}"
    # make plan reads YAML: short tags, a flow sequence, a Fn::ForEach over a parameter.
    template = tmp_path / "numbers.yaml"
    template.write_text(
        "Transform: AWS::LanguageExtensions\n"
        "Parameters:\n"
        f"  Target: {{Type: String, Default: '{instance_arn}'}}\n"
        f"  Ids: {{Type: CommaDelimitedList, Default: '{number}'}}\n"
        "Resources:\n"
        "  Fn::ForEach::Numbers:\n"
        "    - Id\n"
        "    - !Ref Ids\n"
        "    - Number&{Id}:\n"
        "        Type: Custom::PhoneNumberAssignment\n"
        "        Properties:\n"
        "          ServiceToken: !ImportValue provider-ServiceToken\n"
        "          PhoneNumberId: !Ref Id\n"
        "          TargetArn: !Ref Target\n"
    )
    return {"instance": instance_arn, "number": number, "template": str(template)}


@pytest.mark.parametrize(
    ("module", "args", "expect"),
    [
        ("tools.status", ["--format", "json"], '"version": 1'),
        ("tools.status", ["--number", "+15555559100", "--format", "csv"], "+15555559100"),
        ("tools.export", ["{instance}"], "Fn::ForEach::"),
        ("tools.export", ["{instance}", "--style", "resources"], "Number15555559100:"),
        ("tools.plan", ["--template", "{template}", "--format", "csv"], ",Declare,+15555559100,"),
    ],
)
def test_the_tools_run_with_boto3_alone(estate, aws_env, tmp_path, module, args, expect):
    report = tmp_path / "imports.json"
    variables = {
        **os.environ,
        # make plan asks STS for the deployment's account (the provider's parser holds ARNs to it).
        "AWS_ENDPOINT_URL_STS": aws_env.endpoint_url,
        "PYTHONPATH": "provider",
        "ALLOWED_MODULES": json.dumps(allowed_modules()),
        "IMPORT_REPORT": str(report),
    }
    done = subprocess.run(  # noqa: S603 - our own tools
        [sys.executable, "-c", RUNNER, module, *(arg.format(**estate) for arg in args)],
        cwd=ROOT,
        env=variables,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    result = json.loads(report.read_text())
    assert result["code"] == 0, done.stderr
    assert expect in done.stdout
    loaded = {name.partition(".")[0] for name in result["loaded"]}
    assert "boto3" in loaded
    assert not loaded & set(NEVER), sorted(loaded & set(NEVER))
    # What was refused, botocore and urllib3 only try (awscrt, brotli, zstandard...): never a module of ours.
    assert not [name for name in result["refused"] if name.startswith(("tools", "phone_number_assignment"))]


@pytest.mark.parametrize("module", ["records", "stacks", "properties", "tags", "schema"])
def test_the_provider_modules_the_tools_share_import_with_boto3_alone(tmp_path, module):
    """One copy of the rules: the tools import these provider modules, so they bring no Powertools."""
    report = tmp_path / "imports.json"
    variables = {
        **os.environ,
        "PYTHONPATH": "provider",
        "ALLOWED_MODULES": json.dumps(allowed_modules()),
        "IMPORT_REPORT": str(report),
    }
    done = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-c", RUNNER, f"phone_number_assignment.{module}"],
        cwd=ROOT,
        env=variables,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    result = json.loads(report.read_text())
    assert result["code"] in (0, None), done.stderr
    loaded = {name.partition(".")[0] for name in result["loaded"]}
    assert not loaded & set(NEVER), sorted(loaded & set(NEVER))
    assert not [name for name in result["refused"] if name.startswith("phone_number_assignment")]
    assert not {name.partition(".")[0] for name in result["refused"]} & set(NEVER), result["refused"]
    assert done.returncode == 0, done.stderr


def closed_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


@pytest.mark.parametrize(
    ("tool", "argv", "service"),
    [
        ("status", [], "Connect"),
        (
            "export",
            ["arn:aws:connect:us-east-1:123456789012:instance/11111111-1111-4111-8111-111111111111"],
            "Connect",
        ),
        # The plan first asks CloudFormation for the stack it deploys to.
        (
            "plan",
            [
                "--template",
                str(ROOT / "samples/stack.yaml"),
                "--stack",
                stack_arn("s", region=REGION, account_id=ACCOUNT),
            ],
            "CloudFormation",
        ),
        # The emulator's banner once suggested AWS_ENDPOINT_URL_CONNECT alone: DynamoDB then goes elsewhere.
        ("status", [], "DynamoDB"),
    ],
)
def test_an_endpoint_that_does_not_answer_fails_at_once_naming_it_and_the_way_to_the_emulator(
    aws_env, tool, argv, service
):
    dead = f"http://127.0.0.1:{closed_port()}"
    variables = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    variables["PYTHONPATH"] = "provider"
    if service == "DynamoDB":
        variables["AWS_ENDPOINT_URL"] = aws_env.endpoint_url
        variables["AWS_ENDPOINT_URL_DYNAMODB"] = dead
    else:
        variables["AWS_ENDPOINT_URL"] = dead

    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 - our own tools
        [sys.executable, "-m", f"tools.{tool}", *argv],
        cwd=ROOT,
        env=variables,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    took = time.monotonic() - started

    assert done.returncode == 1, done.stderr
    # botocore's retries of a refused connection took 51-82 s; what is left is starting Python and boto3.
    assert took < 20, f"{took:.1f} s"
    [line] = [line for line in done.stderr.splitlines() if f"no answer from {service}" in line]
    assert f"at {dead}" in line
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:4599" in line
    assert done.stdout == ""
