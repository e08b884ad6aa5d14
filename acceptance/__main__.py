"""`make acceptance`: the scenario in a real account, or one line saying what it needs.

ACCEPTANCE_INSTANCE_ARN=...  ACCEPTANCE_OTHER_INSTANCE_ARN=...  ACCEPTANCE_PHONE_NUMBER_ID=...
ACCEPTANCE_CONTACT_FLOW_ARN=...  [ACCEPTANCE_TDG_ARN=...]  [ACCEPTANCE_SECOND_PHONE_NUMBER_ID=...]
[ARCH=arm64]  make acceptance
"""

from __future__ import annotations

import os
import sys

REQUIRED = {
    "ACCEPTANCE_INSTANCE_ARN": "a Connect instance",
    "ACCEPTANCE_OTHER_INSTANCE_ARN": "a second instance in the same Region",
    "ACCEPTANCE_PHONE_NUMBER_ID": "a number claimed in this account and Region",
    "ACCEPTANCE_CONTACT_FLOW_ARN": "a contact flow in the second instance",
}
OPTIONAL = ("ACCEPTANCE_TDG_ARN", "ACCEPTANCE_SECOND_PHONE_NUMBER_ID")


def main() -> int:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        print(
            "make acceptance: skipped; it runs in a real AWS account and needs AWS credentials and "
            + ", ".join(f"{name} ({REQUIRED[name]})" for name in missing)
            + ' (README "Acceptance")'
        )
        return 0
    import boto3

    from acceptance.aws import CloudFormationBackend
    from acceptance.scenario import Resources, Scenario

    if boto3.session.Session().get_credentials() is None:
        print("make acceptance: skipped; the variables are set but no AWS credentials were found")
        return 0
    resources = Resources(
        instance_arn=os.environ["ACCEPTANCE_INSTANCE_ARN"],
        other_instance_arn=os.environ["ACCEPTANCE_OTHER_INSTANCE_ARN"],
        phone_number_id=os.environ["ACCEPTANCE_PHONE_NUMBER_ID"],
        contact_flow_arn=os.environ["ACCEPTANCE_CONTACT_FLOW_ARN"],
        traffic_distribution_group_arn=os.environ.get("ACCEPTANCE_TDG_ARN") or None,
        second_phone_number_id=os.environ.get("ACCEPTANCE_SECOND_PHONE_NUMBER_ID") or None,
    )
    region = resources.instance_arn.split(":")[3]  # the provider must live in the number's Region
    backend = CloudFormationBackend(region, arch=os.environ.get("ARCH", "x86_64"))
    print(
        f"Acceptance in {region}: provider stack {backend.provider_stack}, consumer {backend.consumer_stack}"
    )
    report = Scenario(backend, resources, out=sys.stdout).run()
    print("\nFindings:")
    for topic, text in report.findings:
        print(f"  {topic}: {text}")
    print("PASSED" if report.passed else "FAILED: " + "; ".join(t for t, ok, _ in report.steps if not ok))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
