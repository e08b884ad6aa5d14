"""Tracing is Lambda's own: the template keeps Tracing: Active, and the function carries no X-Ray SDK.

Powertools' Tracer needed the X-Ray SDK (in maintenance since 2026-02-25) and its compiled wrapt, and cost
the cold start their imports for subsegments nobody read. Lambda's active tracing records each invocation
without anything in the package.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
# The environment Lambda gives a function with Tracing: Active: its X-Ray daemon and the invocation's trace
# header (what made Powertools' Tracer load the SDK).
TRACED_LAMBDA = {
    "LAMBDA_TASK_ROOT": str(ROOT / "provider"),
    "AWS_LAMBDA_FUNCTION_NAME": "phone-number-assignment-ProviderFunction",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
}


def test_the_function_keeps_lambdas_active_tracing():
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    assert template["Resources"]["ProviderFunction"]["Properties"]["Tracing"] == "Active"


def test_the_handler_loads_no_x_ray_sdk_where_lambda_traces_it():
    # A fresh interpreter, as a traced cold start: importing the handler must not import the X-Ray SDK
    # or wrapt (this environment has both installed, for moto's server).
    code = (
        "import sys\n"
        "import phone_number_assignment.app as app\n"
        "loaded = {name.split('.')[0] for name in sys.modules}\n"
        "print(sorted(loaded & {'aws_xray_sdk', 'wrapt'}))\n"
    )
    done = subprocess.run(  # noqa: S603 - a fixed snippet
        [sys.executable, "-c", code],
        cwd=ROOT / "provider",
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT / "provider"), **TRACED_LAMBDA},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
