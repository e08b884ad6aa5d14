"""The contract of a Custom::PhoneNumberAssignment declaration: one source of truth for its property names,
allowed values, ID and ARN shapes and return attributes.

Two readers share it: the provider (``properties`` parses every request with these names and patterns) and
the cfn-lint rules in ``cfn-lint-rules/``, which check templates before deploy. The rules package ships a
copy of this file (cfn-lint-rules/src/cfn_lint_phone_number_assignment/schema.py, kept identical by a test),
so it installs without the provider's package or dependencies, and the Lambda never imports cfn-lint: so
this module imports the standard library only, and nothing relative.
"""

from __future__ import annotations

import re

RESOURCE_TYPE = "Custom::PhoneNumberAssignment"

REQUIRED = ("PhoneNumberId", "TargetArn")
OPTIONAL = ("OnDelete", "ContactFlowArn")
# CloudFormation puts ServiceToken (and ServiceTimeout, when the template sets it) among the properties.
SERVICE_TOKEN = "ServiceToken"  # noqa: S105 - a property name, not a secret
SERVICE_TIMEOUT = "ServiceTimeout"
CLOUDFORMATION_PROPERTIES = (SERVICE_TOKEN, SERVICE_TIMEOUT)

DESCRIPTIONS = {
    "PhoneNumberId": "the phone number's ID or its full phone-number ARN",
    "TargetArn": "the ARN of an Amazon Connect instance or traffic distribution group",
    "OnDelete": "Retain or Restore",
    "ContactFlowArn": "the ARN of a contact flow in the target instance (or the group's own instance)",
}

ON_DELETE_RETAIN = "Retain"
ON_DELETE_RESTORE = "Restore"
ON_DELETE_VALUES = (ON_DELETE_RETAIN, ON_DELETE_RESTORE)

UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_UUID = UUID_PATTERN.pattern
ACCOUNT_PATTERN = re.compile(r"\d{12}")
# The resource part of a Connect ARN (after "arn:<partition>:connect:<region>:<account>:").
PHONE_NUMBER_RESOURCE = re.compile(rf"phone-number/(?P<id>{_UUID})")
INSTANCE_RESOURCE = re.compile(rf"instance/(?P<id>{_UUID})")
TRAFFIC_DISTRIBUTION_GROUP_RESOURCE = re.compile(rf"traffic-distribution-group/(?P<id>{_UUID})")
CONTACT_FLOW_RESOURCE = re.compile(rf"instance/(?P<instance_id>{_UUID})/contact-flow/(?P<id>{_UUID})")

# Fn::GetAtt names the provider returns (lifecycle's Outcome data); Ref is the phone number's ARN.
RETURN_ATTRIBUTES = (
    "PhoneNumberArn",
    "PhoneNumberId",
    "PhoneNumber",
    "TargetArn",
    "PreviousTargetArn",
    "ContactFlowArn",
    "PreviousContactFlowArn",
)
