"""cfn-lint rules for Custom::PhoneNumberAssignment. Enable them with
``cfn-lint -a cfn_lint_phone_number_assignment.rules template.yaml``.

The rule classes are re-exported here as well, so ``-a cfn_lint_phone_number_assignment`` (the package
without ``.rules``) runs them too instead of silently running none: cfn-lint instantiates every rule class
it finds in the module it is given.
"""

from .rules import (
    ContactFlowInstance,
    DuplicateNumber,
    MissingProperty,
    OnDeleteValue,
    PartitionAndRegion,
    RetainOnCreate,
    ServiceTimeoutMissing,
    UnknownAttribute,
    UnknownProperty,
    ValueShape,
)

__all__ = [
    "ContactFlowInstance",
    "DuplicateNumber",
    "MissingProperty",
    "OnDeleteValue",
    "PartitionAndRegion",
    "RetainOnCreate",
    "ServiceTimeoutMissing",
    "UnknownAttribute",
    "UnknownProperty",
    "ValueShape",
]
