"""The Connect API surface: moto's ConnectResponse plus the phone-number operations.

Every Connect request the emulator serves (moto's own operations included) passes through
``call_action`` here, so rate limits, injected faults and the call log cover all of them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from moto.connect.responses import ConnectResponse
from moto.core.exceptions import HTTPException

from . import faults
from .exceptions import ConnectError, InvalidParameterException
from .identifiers import refuse_arns_where_ids_are_documented
from .models import ConnectPhoneNumberBackend, page, phone_number_backends
from .runtime import EMULATOR_LOCK, runtime
from .tags import validate_new_tags, validate_tag_keys, visible_tags, write_tags

# moto's handlers read their own (location-named) parameters; automated parsing would hide them.
MOTO_OWN_OPERATIONS = frozenset(
    {
        "AssociateAnalyticsDataSet",
        "DisassociateAnalyticsDataSet",
        "ListAnalyticsDataAssociations",
        "CreateInstance",
        "DescribeInstance",
        "ListInstances",
        "DeleteInstance",
    }
)


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class ConnectEmulatorResponse(ConnectResponse):
    def __init__(self) -> None:
        super().__init__()
        self.automated_parameter_parsing = True
        self.params: dict[str, Any] = {}
        self._action: str | None = None

    def _get_action(self) -> str:
        # Routing runs a werkzeug match; moto asks for the action several times per request.
        if self._action is None:
            self._action = super()._get_action()
        return self._action

    def setup_class(
        self, request: Any, full_url: str | None = None, headers: Any = None, **kwargs: Any
    ) -> None:
        super().setup_class(request, full_url, headers, **kwargs)
        if self._get_action() in MOTO_OWN_OPERATIONS:
            self.automated_parameter_parsing = False

    def call_action(self) -> tuple[int, dict[str, Any], Any]:
        operation = self._get_action()
        if not operation:
            return super().call_action()
        started = runtime.now()
        # A transient fault (faults.py) answers before the service does: a front end's answer, or none.
        fault = faults.take("connect", operation)
        with EMULATOR_LOCK:
            if fault is not None and not fault.served:
                status, headers, body = (
                    (0, {}, "") if fault.status is None else faults.answer("connect", fault, None)
                )
            else:
                status, headers, body = self._served(operation)
            error = None
            if fault is not None and fault.status is None:
                status, error = 0, faults.CONNECTION_RESET  # logged as no answer at all
            elif int(status) >= 400:
                error = self._error_code(headers, body) or str(status)
            runtime.record_call(operation, started, _json_safe(self.params or {}), int(status), error)
            latency = runtime.latency_seconds
        if fault is not None and fault.status is None:
            return faults.answer("connect", fault, self.normalized_request)
        if latency:
            # A loaded service or a slow network: the answer takes this long, whatever it is (outside the
            # lock, so other callers are not held up).
            runtime.clock.sleep(latency)
        return status, headers, body

    def _served(self, operation: str) -> tuple[int, dict[str, Any], Any]:
        rejection = runtime.admit(operation) or refuse_arns_where_ids_are_documented(
            operation, self._identifiers(operation)
        )
        if rejection is not None:
            return self._error_response(rejection)
        return super().call_action()

    def _identifiers(self, operation: str) -> dict[str, Any]:
        if operation not in MOTO_OWN_OPERATIONS:
            return self.params or {}
        # moto's own handlers parse their parameters themselves: read the ones the check needs the same way.
        instance_id = self._get_param("InstanceId")
        return {"InstanceId": unquote(instance_id)} if isinstance(instance_id, str) else {}

    def _error_response(self, error: HTTPException) -> tuple[int, dict[str, Any], str]:
        headers: dict[str, Any] = {**self.response_headers, **dict(error.get_headers())}
        headers["status"] = str(error.code)
        return int(error.code or 500), headers, error.get_body()

    @staticmethod
    def _error_code(headers: dict[str, Any], body: Any) -> str | None:
        for name, value in headers.items():
            if name.lower() == "x-amzn-errortype":
                return str(value).split(":")[0]
        try:
            return json.loads(body).get("__type")
        except (TypeError, ValueError, AttributeError):
            return None

    @property
    def emulator(self) -> ConnectPhoneNumberBackend:
        return phone_number_backends[self.current_account][self.region]

    def _param(self, name: str, default: Any = None) -> Any:
        value = self.params.get(name)
        return default if value is None else value

    def _once(self, perform: Any) -> Any:
        return self.emulator.once_per_token(self._get_action(), self.params, perform)

    # ---- phone numbers ----------------------------------------------------------------------------

    def _new_resource_tags(self, name: str = "Tags") -> dict[str, str] | None:
        tags = self._param(name)
        return None if tags is None else validate_new_tags(tags)

    def claim_phone_number(self) -> str:
        def claim() -> dict[str, str]:
            tags = self._new_resource_tags()
            target = self.emulator.resolve_target(self._param("TargetArn"), self._param("InstanceId"))
            number = self.emulator.claim_phone_number(
                self._param("PhoneNumber"), target, self._param("PhoneNumberDescription"), tags
            )
            return {"PhoneNumberId": number.id, "PhoneNumberArn": number.arn}

        return json.dumps(self._once(claim))

    def search_available_phone_numbers(self) -> str:
        try:
            self.emulator.resolve_target(self._param("TargetArn"), self._param("InstanceId"))
        except ConnectError as error:
            # SearchAvailablePhoneNumbers models no ResourceNotFoundException.
            raise InvalidParameterException(error.message) from None
        available = self.emulator.search_available_phone_numbers(
            self._param("PhoneNumberCountryCode"),
            self._param("PhoneNumberType"),
            self._param("PhoneNumberPrefix"),
        )
        limit = min(int(self._param("MaxResults", 10)), 10)
        numbers, next_token = page(available, self._param("NextToken"), limit)
        response: dict[str, Any] = {"AvailableNumbersList": numbers}
        if next_token:
            response["NextToken"] = next_token
        return json.dumps(response)

    def describe_phone_number(self) -> str:
        number = self.emulator.get_phone_number(self._param("PhoneNumberId"))
        return json.dumps({"ClaimedPhoneNumberSummary": number.summary(runtime.now(), with_status=True)})

    def update_phone_number(self) -> str:
        def update() -> dict[str, str]:
            number = self.emulator.get_phone_number(self._param("PhoneNumberId"))
            target = self.emulator.resolve_target(self._param("TargetArn"), self._param("InstanceId"))
            self.emulator.update_phone_number(number, target)
            return {"PhoneNumberId": number.id, "PhoneNumberArn": number.arn}

        return json.dumps(self._once(update))

    def release_phone_number(self) -> str:
        def release() -> dict[str, Any]:
            number = self.emulator.get_phone_number(self._param("PhoneNumberId"))
            self.emulator.release_phone_number(number)
            return {}

        return json.dumps(self._once(release))

    def update_phone_number_metadata(self) -> str:
        def update_metadata() -> dict[str, Any]:
            number = self.emulator.get_phone_number(self._param("PhoneNumberId"))
            self.emulator.update_phone_number_metadata(number, self._param("PhoneNumberDescription"))
            return {}

        return json.dumps(self._once(update_metadata))

    def list_phone_numbers_v2(self) -> str:
        target_arn, instance_id = self._param("TargetArn"), self._param("InstanceId")
        target = None
        if target_arn or instance_id:
            target = self.emulator.resolve_target(target_arn, instance_id, require_active=False)
        listed = self.emulator.list_phone_numbers(
            target,
            self._param("PhoneNumberCountryCodes"),
            self._param("PhoneNumberTypes"),
            self._param("PhoneNumberPrefix"),
        )
        numbers, next_token = page(listed, self._param("NextToken"), int(self._param("MaxResults", 10)))
        response: dict[str, Any] = {"ListPhoneNumbersSummaryList": numbers}
        if next_token:
            response["NextToken"] = next_token
        return json.dumps(response)

    def associate_phone_number_contact_flow(self) -> str:
        number = self.emulator.get_phone_number(self._param("PhoneNumberId"))
        self.emulator.associate_contact_flow(number, self._param("InstanceId"), self._param("ContactFlowId"))
        return "{}"

    def disassociate_phone_number_contact_flow(self) -> str:
        number = self.emulator.get_phone_number(self._param("PhoneNumberId"))
        self.emulator.disassociate_contact_flow(number, self._param("InstanceId"))
        return "{}"

    # ---- contact flows ----------------------------------------------------------------------------

    def create_contact_flow(self) -> str:
        tags = self._new_resource_tags()
        flow = self.emulator.create_contact_flow(
            instance_id=self._param("InstanceId"),
            name=self._param("Name"),
            flow_type=self._param("Type"),
            content=self._param("Content"),
            description=self._param("Description"),
            status=self._param("Status"),
            tags=tags,
        )
        return json.dumps(
            {
                "ContactFlowId": flow.id,
                "ContactFlowArn": flow.arn,
                "FlowContentSha256": flow.describe()["FlowContentSha256"],
            }
        )

    def describe_contact_flow(self) -> str:
        flow = self.emulator.get_contact_flow(self._param("InstanceId"), self._param("ContactFlowId"))
        return json.dumps({"ContactFlow": flow.describe()})

    def list_flow_associations(self) -> str:
        associations = self.emulator.list_flow_associations(
            self._param("InstanceId"), self._param("ResourceType")
        )
        listed, next_token = page(associations, self._param("NextToken"), int(self._param("MaxResults", 100)))
        response: dict[str, Any] = {"FlowAssociationSummaryList": listed}
        if next_token:
            response["NextToken"] = next_token
        return json.dumps(response)

    def batch_get_flow_association(self) -> str:
        associations = self.emulator.batch_get_flow_association(
            self._param("InstanceId"), self._param("ResourceIds") or [], self._param("ResourceType")
        )
        return json.dumps({"FlowAssociationSummaryList": associations})

    # ---- traffic distribution groups --------------------------------------------------------------

    def create_traffic_distribution_group(self) -> str:
        def create() -> dict[str, str]:
            tags = self._new_resource_tags()
            tdg = self.emulator.create_traffic_distribution_group(
                name=self._param("Name"),
                instance_id=self._param("InstanceId"),
                description=self._param("Description"),
                tags=tags,
            )
            return {"Id": tdg.id, "Arn": tdg.arn}

        return json.dumps(self._once(create))

    def describe_traffic_distribution_group(self) -> str:
        tdg = self.emulator.get_traffic_distribution_group(self._param("TrafficDistributionGroupId"))
        return json.dumps({"TrafficDistributionGroup": tdg.describe()})

    def delete_traffic_distribution_group(self) -> str:
        tdg = self.emulator.get_traffic_distribution_group(self._param("TrafficDistributionGroupId"))
        self.emulator.delete_traffic_distribution_group(tdg)
        return "{}"

    # ---- moto's operations, extended --------------------------------------------------------------

    def delete_instance(self) -> str:
        response = super().delete_instance()
        self.emulator.forget_instance(self._get_instance_id())
        return response

    def tag_resource(self) -> str:
        tags = validate_new_tags(self._param("tags"))
        resource = self.emulator.taggable(self._param("resourceArn"))
        if resource is None:
            return super().tag_resource()
        write_tags(resource, runtime.now(), runtime.tag_visibility_seconds, added=tags)
        return "{}"

    def untag_resource(self) -> str:
        keys = validate_tag_keys(self._param("tagKeys"))
        resource = self.emulator.taggable(self._param("resourceArn"))
        if resource is None:
            return super().untag_resource()
        write_tags(resource, runtime.now(), runtime.tag_visibility_seconds, removed=keys)
        return "{}"

    def list_tags_for_resource(self) -> str:
        resource = self.emulator.taggable(self._param("resourceArn"))
        if resource is None:
            return super().list_tags_for_resource()
        return json.dumps({"tags": visible_tags(resource, runtime.now())})
