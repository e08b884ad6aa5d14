"""`make acceptance`: the scenario in a real account, or one line saying what it needs.

ACCEPTANCE_INSTANCE_ARN=...  ACCEPTANCE_OTHER_INSTANCE_ARN=...  ACCEPTANCE_PHONE_NUMBER_ID=...
ACCEPTANCE_CONTACT_FLOW_ARN=...  [ACCEPTANCE_TDG_ARN=...]  [ACCEPTANCE_SECOND_PHONE_NUMBER_ID=...]
[ARCH=arm64]  make acceptance
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from botocore.utils import ArnParser, InvalidArnException

REQUIRED = {
    "ACCEPTANCE_INSTANCE_ARN": "a Connect instance",
    "ACCEPTANCE_OTHER_INSTANCE_ARN": "a second instance in the same Region",
    "ACCEPTANCE_PHONE_NUMBER_ID": "a number claimed in this account and Region",
    "ACCEPTANCE_CONTACT_FLOW_ARN": "a contact flow in the second instance",
}
OPTIONAL = ("ACCEPTANCE_TDG_ARN", "ACCEPTANCE_SECOND_PHONE_NUMBER_ID")
ARNS = (
    "ACCEPTANCE_INSTANCE_ARN",
    "ACCEPTANCE_OTHER_INSTANCE_ARN",
    "ACCEPTANCE_CONTACT_FLOW_ARN",
    "ACCEPTANCE_TDG_ARN",
)


def region_of(environ: dict[str, str]) -> str:
    """The Region every ARN names (the provider must live in the numbers' Region); ValueError if they
    disagree, name another account, or are not Connect ARNs."""
    places = set()
    for name in ARNS:
        value = environ.get(name)
        if not value:
            continue
        try:
            arn = ArnParser().parse_arn(value)
        except InvalidArnException:
            raise ValueError(f"{name} is not an ARN: {value!r}") from None
        if arn["service"] != "connect":
            raise ValueError(f"{name} is not a Connect ARN: {value!r}")
        places.add((arn["region"], arn["account"]))
    if len(places) != 1:
        raise ValueError(
            "the ACCEPTANCE_* ARNs name more than one Region or account: "
            + ", ".join(f"{r} ({a})" for r, a in sorted(places))
        )
    return next(iter(places))[0]


def print_report(report, out: TextIO) -> None:
    out.write("\nSummary:\n" + report.summary() + "\n")
    if report.findings:
        out.write("\nFindings (paste into an issue):\n\n" + report.findings_table() + "\n")
    if report.left_behind:
        out.write("\nLeft behind; these commands clean it up:\n")
        for command in report.left_behind:
            out.write(f"  {command}\n")
    if report.passed:
        out.write("PASSED\n")
    else:
        failed = [title for title, ok, _ in report.steps if not ok]
        out.write("FAILED: " + "; ".join(failed or ["interrupted"]) + "\n")


def main() -> int:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        print(
            "make acceptance: skipped; it runs in a real AWS account and needs AWS credentials and "
            + ", ".join(f"{name} ({REQUIRED[name]})" for name in missing)
            + ' (CONTRIBUTING.md, "Acceptance in a real account")'
        )
        return 0
    import boto3

    from acceptance.aws import CloudFormationBackend
    from acceptance.scenario import Resources, Scenario

    if boto3.session.Session().get_credentials() is None:
        print("make acceptance: skipped; the variables are set but no AWS credentials were found")
        return 0
    try:
        region = region_of(dict(os.environ))
    except ValueError as exc:
        print(f"make acceptance: {exc}; nothing was done")
        return 2
    resources = Resources(
        instance_arn=os.environ["ACCEPTANCE_INSTANCE_ARN"],
        other_instance_arn=os.environ["ACCEPTANCE_OTHER_INSTANCE_ARN"],
        phone_number_id=os.environ["ACCEPTANCE_PHONE_NUMBER_ID"],
        contact_flow_arn=os.environ["ACCEPTANCE_CONTACT_FLOW_ARN"],
        traffic_distribution_group_arn=os.environ.get("ACCEPTANCE_TDG_ARN") or None,
        second_phone_number_id=os.environ.get("ACCEPTANCE_SECOND_PHONE_NUMBER_ID") or None,
    )
    backend = CloudFormationBackend(region, arch=os.environ.get("ARCH", "x86_64"))
    print(
        f"Acceptance in {region} (the Region of the ARNs): provider stack {backend.provider_stack}, "
        f"consumer {backend.consumer_stack}"
    )
    report = Scenario(backend, resources, out=sys.stdout).run()
    print_report(report, sys.stdout)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
