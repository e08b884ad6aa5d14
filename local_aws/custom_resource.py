"""A stand-in for a custom resource in moto's CloudFormation, for tests that ask CloudFormation about owners.

moto runs ``Custom::*`` resources only by invoking a Lambda function (in Docker) and never takes the physical
ID from the response, so a stack that "holds" a number through the provider cannot be built with it. Importing
this module and calling ``register()`` makes moto build the generic custom-resource type
``AWS::CloudFormation::CustomResource`` from this model instead: its physical ID is what the provider would
have answered (the declared number's ARN: the ``PhoneNumberId`` property, or ``AnsweredPhysicalId`` when a
test needs another), and ``CreateInProgress: "true"`` keeps the resource (and stack) in CREATE_IN_PROGRESS, as
a Create the provider has not answered yet. DescribeStackResource then reports the logical ID, status and
physical ID as real CloudFormation would; deleting the stack calls nothing (the provider's Delete is not
modelled), and with ``local_aws.connect.native`` installed a deleted stack reports DELETE_COMPLETE, or
DELETE_SKIPPED for ``DeletionPolicy: Retain``.
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation import parsing as cfn_parsing
from moto.core.common_models import CloudFormationModel

RESOURCE_TYPE = "AWS::CloudFormation::CustomResource"


class CustomResourceStandIn(CloudFormationModel):
    def __init__(self, physical_id: str, in_progress: bool) -> None:
        self._physical_id = physical_id
        self._in_progress = in_progress

    @staticmethod
    def cloudformation_type() -> str:
        return RESOURCE_TYPE

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    def is_created(self) -> bool:
        return not self._in_progress

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CustomResourceStandIn:
        properties = cloudformation_json["Properties"]
        return cls(
            properties.get("AnsweredPhysicalId") or properties["PhoneNumberId"],
            properties.get("CreateInProgress") == "true",
        )

    def delete(self, account_id: str, region_name: str) -> None:
        """Nothing to release: the provider's Delete is not what this stands in for."""


def register() -> None:
    """Make moto's CloudFormation use the stand-in (it caches its list of models on first use)."""
    for cached in (cfn_parsing.get_model_list, cfn_parsing.get_model_map, cfn_parsing.get_name_type_map):
        cached.cache_clear()


def owner_stack_template(resources: dict[str, dict[str, Any]], service_token: str) -> str:
    """A template of stand-ins: logical ID -> {PhoneNumberId, [AnsweredPhysicalId], [CreateInProgress],
    [Retain]} (Retain: ``DeletionPolicy: Retain``)."""
    template: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}
    for logical_id, spec in resources.items():
        properties = {"ServiceToken": service_token, **{k: v for k, v in spec.items() if k != "Retain"}}
        resource: dict[str, Any] = {"Type": RESOURCE_TYPE, "Properties": properties}
        if spec.get("Retain"):
            resource["DeletionPolicy"] = "Retain"
        template["Resources"][logical_id] = resource
    return json.dumps(template)
