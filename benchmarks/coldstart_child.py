"""One cold-start sample, run as ``python -I -B coldstart_child.py <job.json>`` in a fresh interpreter.

Standard library only until the timed imports: ``sys.path`` is the packaged function directory and the
interpreter's standard library, as in a Lambda sandbox, and nothing is imported before the clock starts
that the measured code would not import itself. ``-B`` because Lambda's /var/task is read-only: Python
cannot cache the bytecode it compiles there, so what the package does not ship compiled is compiled at
every cold start.

Job keys: ``mode`` ("floor" or "handler"), ``code_dir``, ``region``, ``event``, ``result`` (path to
write); for "floor": ``phone_number_arn``, ``target_arn``, ``client_token``; for "handler":
``lambda_context_file``, ``timeout_seconds``, ``memory_mb``, ``function_name``.
"""

import json
import sys
import threading
import time


def main() -> None:
    with open(sys.argv[1]) as f:
        job = json.load(f)
    sys.path.insert(0, job["code_dir"])
    result = floor(job) if job["mode"] == "floor" else handler(job)
    with open(job["result"], "w") as f:
        json.dump(result, f)


def floor(job: dict) -> dict:
    """What any Python function calling Connect pays: import boto3 and create one client; then, timed apart,
    the least any provider doing this job safely pays for its first request, with bare boto3 and
    http.client: read the number, one conditional write that makes it this stack's (an ownership record
    no other writer can also win: a second client, DynamoDB's), the move, the read that sees it CLAIMED, the
    owner tags people see, and the response PUT."""
    started = time.perf_counter()
    import boto3

    client = boto3.session.Session().client("connect", region_name=job["region"])
    created = time.perf_counter()

    import contextlib
    import http.client
    import ssl
    from urllib.parse import urlsplit, urlunsplit

    from botocore.exceptions import ClientError

    number, target = job["phone_number_arn"], job["target_arn"]
    client.describe_phone_number(PhoneNumberId=number)
    records = boto3.session.Session().client("dynamodb", region_name=job["region"])
    # A table not created yet (the first round) answers as fast: the round trip is what counts.
    with contextlib.suppress(ClientError):
        records.put_item(
            TableName="PhoneNumberAssignment-Ownership",
            Item={"PhoneNumberArn": {"S": f"{number}-floor"}},
            ConditionExpression="attribute_not_exists(PhoneNumberArn)",
        )
    client.update_phone_number(PhoneNumberId=number, TargetArn=target, ClientToken=job["client_token"])
    client.describe_phone_number(PhoneNumberId=number)
    client.tag_resource(resourceArn=number, tags={"bench-owner": "1"})
    event = job["event"]
    body = json.dumps(
        {
            "Status": "SUCCESS",
            "PhysicalResourceId": number,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": {},
        }
    ).encode()
    url = urlsplit(event["ResponseURL"])
    connection = http.client.HTTPSConnection(url.netloc, timeout=10, context=ssl.create_default_context())
    connection.request(
        "PUT",
        urlunsplit(("", "", url.path, url.query, "")),
        body=body,
        headers={"content-type": "", "content-length": str(len(body))},
    )
    connection.getresponse().read()
    connection.close()
    answered = time.perf_counter()
    return {"floor_ms": (created - started) * 1000, "calls_ms": (answered - created) * 1000}


def handler(job: dict) -> dict:
    """Import the handler module, then serve one request; the provider's deliberate waits (the
    poll schedule) are timed separately and left out: they are protocol, not start-up."""
    slept = [0.0]
    real_sleep = time.sleep
    main_thread = threading.main_thread()

    def sleep(seconds: float) -> None:
        began = time.perf_counter()
        real_sleep(seconds)
        if threading.current_thread() is main_thread:
            slept[0] += time.perf_counter() - began

    time.sleep = sleep  # before the import: the provider binds time.sleep as a default argument

    started = time.perf_counter()
    import phone_number_assignment.app as app

    imported = time.perf_counter()

    import importlib.util

    spec = importlib.util.spec_from_file_location("lambda_context", job["lambda_context_file"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    context = module.LambdaContext(
        function_name=job["function_name"],
        timeout_seconds=job["timeout_seconds"],
        memory_limit_in_mb=job["memory_mb"],
        region=job["region"],
    )
    event = json.loads(json.dumps(job["event"]))

    called = time.perf_counter()
    app.handler(event, context)
    returned = time.perf_counter()
    return {
        "import_ms": (imported - started) * 1000,
        "request_ms": (returned - called - slept[0]) * 1000,
        "slept_ms": slept[0] * 1000,
        "total_ms": (imported - started + returned - called - slept[0]) * 1000,
        "xray_loaded": "aws_xray_sdk.core" in sys.modules,
        # Builds before the Tracer was dropped had one (a --baseline-code-dir may be such a build).
        "tracer_provider": type(app.tracer.provider).__name__ if hasattr(app, "tracer") else "none",
    }


if __name__ == "__main__":
    main()
