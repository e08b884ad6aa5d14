"""The native ``AWS::Connect::PhoneNumber`` resource in moto's CloudFormation, backed by the Connect emulator.

Importing this module (``install()`` does) registers a moto ``CloudFormationModel`` for the type, so
``cloudformation.create_stack`` in ``mock_aws`` or on the emulator's server (moto's ThreadedMotoServer serves
every service) claims a number in the emulator, as the real resource does:

- properties as in the resource's schema: ``TargetArn`` (required), ``CountryCode``, ``Type``, ``Prefix``,
  ``Description``, ``Tags`` (a list of Key/Value); the number claimed is the first SearchAvailablePhoneNumbers
  offers for CountryCode/Type/Prefix (a Prefix that is a whole E.164 number claims exactly that number);
- the number carries the stack's own tags and the resource's Tags, and no CloudFormation system tags
  (``aws:cloudformation:*``): the real handler passes ClaimPhoneNumber only the resource's desired tags,
  and Connect refuses ``aws:`` keys from anyone (the model's TagKey pattern ``^(?!aws:)...``), so the
  emulator does not write what the service would refuse. Which stack holds the number is told by
  CloudFormation's DescribeStackResources(PhysicalResourceId=<its ARN>) instead (played_stacks.py);
- ``Ref`` and the physical ID are the number's ARN (GetAtt ``PhoneNumberArn``, ``Address``); the claim is
  complete (CLAIMED) when the stack is, as the real handler waits for it;
- deleting the stack releases the number, unless the resource has ``DeletionPolicy: Retain``, which leaves it
  claimed with every tag (an assumption: docs/reliability.md).

It also brings moto's DescribeStackResource(s)/ListStackResources closer to real CloudFormation for deleted
stacks (see ``_patch_deleted_stacks``). Updates of the resource are not modelled.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel

from .exceptions import ConnectError, InvalidParameterException
from .models import phone_number_backends
from .runtime import EMULATOR_LOCK
from .tags import validate_new_tags

RESOURCE_TYPE = "AWS::Connect::PhoneNumber"


class NativePhoneNumber(CloudFormationModel):
    def __init__(self, phone_number_arn: str, address: str, account_id: str, region_name: str) -> None:
        self.phone_number_arn = phone_number_arn
        self.address = address
        self.account_id = account_id
        self.region_name = region_name

    @staticmethod
    def cloudformation_type() -> str:
        return RESOURCE_TYPE

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""  # the type has no name property

    @property
    def physical_resource_id(self) -> str:
        return self.phone_number_arn

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("PhoneNumberArn", "Address")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "PhoneNumberArn":
            return self.phone_number_arn
        if attribute_name == "Address":
            return self.address
        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> NativePhoneNumber:
        properties = cloudformation_json.get("Properties", {})
        stack_id, logical_id = kwargs["StackId"], kwargs["LogicalId"]
        user_tags = _tags_property(properties.get("Tags"))
        with EMULATOR_LOCK:
            backend = phone_number_backends[account_id][region_name]
            target_arn = properties.get("TargetArn")
            if not target_arn:
                raise InvalidParameterException(f"{logical_id}: TargetArn is required")
            target = backend.resolve_target(target_arn, None)
            offered = backend.search_available_phone_numbers(
                properties.get("CountryCode", "US"), properties.get("Type", "DID"), properties.get("Prefix")
            )
            if not offered:
                raise InvalidParameterException(
                    f"{logical_id}: no {properties.get('Type', 'DID')} number available in "
                    f"{properties.get('CountryCode', 'US')} with prefix {properties.get('Prefix')!r}"
                )
            tags = {**_stack_tags(account_id, region_name, stack_id), **user_tags}
            number = backend.claim_phone_number(
                offered[0]["PhoneNumber"],
                target,
                properties.get("Description"),
                # Checked as ClaimPhoneNumber checks its Tags: the handler makes that call.
                validate_new_tags(tags) if tags else None,
                claimed_immediately=True,
            )
        return cls(number.arn, number.phone_number, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> NativePhoneNumber:
        raise NotImplementedError(f"The emulator does not model updates of {RESOURCE_TYPE}")

    def delete(self, account_id: str, region_name: str) -> None:
        """Release the number, as the real resource's delete handler does; gone already is fine."""
        with EMULATOR_LOCK:
            backend = phone_number_backends[account_id][region_name]
            try:
                number = backend.get_phone_number(self.phone_number_arn)
            except ConnectError:
                return
            backend.release_phone_number(number)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        cls(resource_name, "", account_id, region_name).delete(account_id, region_name)


def _tags_property(tags: Any) -> dict[str, str]:
    if not tags:
        return {}
    return validate_new_tags({tag["Key"]: tag["Value"] for tag in tags})


def _stack_tags(account_id: str, region_name: str, stack_id: str) -> dict[str, str]:
    """CloudFormation propagates the stack's own tags to the resources it creates."""
    stack = cfn_models.cloudformation_backends[account_id][region_name].stacks.get(stack_id)
    return dict(getattr(stack, "tags", None) or {})


# ---- deleted stacks, as real CloudFormation describes them ------------------------------------------


@dataclass
class DeletedStackResource:
    """What a deleted stack still says about a resource of its own (real CloudFormation: for 90 days)."""

    logical_resource_id: str
    physical_resource_id: str | None
    cf_resource_type: str | None
    resource_status: str  # DELETE_COMPLETE, or DELETE_SKIPPED for DeletionPolicy: Retain


class StackResourceDTO(cfn_responses.StackResourceDTO):
    def __init__(self, stack: Any, resource: Any) -> None:
        super().__init__(stack, resource)
        # moto reports the stack's status for every resource; a deleted resource has its own.
        self.resource_status = getattr(resource, "resource_status", None) or stack.status


def _patch_deleted_stacks() -> None:
    """Make moto answer for deleted stacks as real CloudFormation does.

    moto's ``Stack.stack_resources`` reads the stack's lazy resource map, which *creates* any resource it
    does not hold: after a delete, DescribeStackResource would claim a fresh number (or fail on the retained
    one). Real CloudFormation answers, for a deleted stack named by its stack ID, with each resource's final
    status. So the delete records that, and a deleted stack reports it instead of touching the map. Missing
    stacks and logical IDs keep moto's (real) ValidationError messages.
    """
    original_delete = cfn_models.Stack.delete
    original_resources = cfn_models.Stack.stack_resources

    def delete(self: Any) -> None:
        parsed = self.resource_map._parsed_resources
        before = {
            logical: (getattr(res, "physical_resource_id", None), getattr(res, "cf_resource_type", None))
            for logical, res in parsed.items()
            if hasattr(res, "logical_resource_id")
        }
        original_delete(self)
        self.deleted_resources = [
            DeletedStackResource(
                logical,
                physical,
                resource_type,
                "DELETE_SKIPPED" if logical in self.resource_map._parsed_resources else "DELETE_COMPLETE",
            )
            for logical, (physical, resource_type) in before.items()
        ]

    def stack_resources(self: Any) -> Any:
        deleted = getattr(self, "deleted_resources", None)
        if deleted is not None and self.status == "DELETE_COMPLETE":
            return deleted
        return original_resources.fget(self)

    cfn_models.Stack.delete = delete  # type: ignore[method-assign]
    cfn_models.Stack.stack_resources = property(stack_resources)  # type: ignore[assignment]
    cfn_responses.StackResourceDTO = StackResourceDTO  # type: ignore[misc]


_install_lock = threading.Lock()
_installed = False


def install() -> None:
    """Register the resource type with moto's CloudFormation (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        # moto caches its list of CloudFormationModel subclasses on first use.
        cfn_parsing.get_model_list.cache_clear()
        cfn_parsing.get_model_map.cache_clear()
        cfn_parsing.get_name_type_map.cache_clear()
        _patch_deleted_stacks()
        _installed = True


# ---- for tests ---------------------------------------------------------------------------------------


def native_number_template(
    target_arn: str,
    *,
    phone_number: str | None = None,
    retain: bool = False,
    logical_id: str = "NativeNumber",
    country_code: str = "US",
    number_type: str = "DID",
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A template with one AWS::Connect::PhoneNumber, valid for real CloudFormation too."""
    properties: dict[str, Any] = {"TargetArn": target_arn, "CountryCode": country_code, "Type": number_type}
    if phone_number:
        properties["Prefix"] = phone_number
    if tags:
        properties["Tags"] = [{"Key": key, "Value": value} for key, value in tags.items()]
    resource: dict[str, Any] = {"Type": RESOURCE_TYPE, "Properties": properties}
    if retain:
        resource["DeletionPolicy"] = "Retain"
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {logical_id: resource},
        "Outputs": {"PhoneNumberArn": {"Value": {"Ref": logical_id}}},
    }


def deploy_native_number_stack(
    cloudformation_client: Any,
    stack_name: str,
    target_arn: str,
    phone_number: str | None = None,
    retain: bool = False,
    *,
    logical_id: str = "NativeNumber",
    tags: dict[str, str] | None = None,
) -> tuple[str, str]:
    """Create a stack of one native AWS::Connect::PhoneNumber; returns (stack ID, the number's ARN).

    ``cloudformation_client``: a boto3 CloudFormation client on the emulator (in ``mock_aws``, or with
    ``endpoint_url`` = the emulator server's URL). The number is claimed to ``target_arn`` (an instance or
    traffic distribution group ARN in the client's Region) and carries the stack's tags, not CloudFormation's
    system tags (see the module's docstring). ``phone_number`` picks the number (as the template's Prefix,
    so it must be free), else the first available US DID. ``retain``: the resource has ``DeletionPolicy:
    Retain``, so deleting the stack leaves the number claimed. ``tags``: the stack's own tags, which
    CloudFormation propagates to the number. Delete the stack with ``delete_stack(StackName=stack_id)``;
    ``describe_stack_resource(StackName=stack_id, LogicalResourceId=logical_id)`` then still answers, with
    ResourceStatus DELETE_COMPLETE (or DELETE_SKIPPED when retained).
    """
    template = native_number_template(
        target_arn, phone_number=phone_number, retain=retain, logical_id=logical_id
    )
    created = cloudformation_client.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
    )
    stack_id = created["StackId"]
    resource = cloudformation_client.describe_stack_resource(StackName=stack_id, LogicalResourceId=logical_id)
    return stack_id, resource["StackResourceDetail"]["PhysicalResourceId"]
