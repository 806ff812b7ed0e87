"""One error hierarchy for orgvend.

Every error a worker step can report carries ``code``: the exact string that the workflow's
``Retry``/``Catch`` ``ErrorEquals`` and the stream record use. ``advice`` is the sentence a person
reads next to the code: what to do about it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ACCOUNT_FAILURE_ADVICE",
    "AccountCreationFailed",
    "AccountCreationPending",
    "AccountNotUsable",
    "AllFeaturesNotEnabled",
    "CidrOutsidePool",
    "CidrOverlap",
    "CidrPoolExhausted",
    "ConcurrentModification",
    "ConfigInvalid",
    "HubNetworkMissing",
    "NotYetUsable",
    "OrgvendError",
    "PeeringPending",
    "PeeringRejected",
    "RequestInvalid",
    "RoleInstallationDenied",
    "StreamConflict",
    "StreamNotFound",
    "Throttled",
    "ValidationIssue",
]

ValidationIssue = dict[str, str]
"""``{"path": JSON pointer, "message": what is wrong and what is allowed}``."""


class OrgvendError(Exception):
    """Root of every error orgvend raises on purpose."""

    code = "Orgvend.Error"
    advice = "See the message for details."

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def describe(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "advice": self.advice}


class _InvalidDocument(OrgvendError):
    def __init__(self, source: str, errors: list[ValidationIssue]) -> None:
        lines = "; ".join(f"{e['path'] or '/'}: {e['message']}" for e in errors)
        super().__init__(f"{source} is invalid: {lines}")
        self.source = source
        self.errors = errors


class ConfigInvalid(_InvalidDocument):
    code = "ConfigInvalid"
    advice = "Fix the named fields of the org config and load it again."


class RequestInvalid(_InvalidDocument):
    code = "RequestInvalid"
    advice = "Fix the named fields of the stream request and submit it again."


class StreamNotFound(OrgvendError):
    code = "StreamNotFound"
    advice = "Check the stream name; `orgvend status` lists every stream."


class StreamConflict(OrgvendError):
    code = "StreamConflict"
    advice = "A stream with this name exists with a different request; choose another name."


class Throttled(OrgvendError):
    """AWS throttled a call beyond the client's own retries; the workflow retries with backoff."""

    code = "Transient.Throttled"
    advice = "Nothing to do: the workflow retries throttled calls with backoff."


class ConcurrentModification(OrgvendError):
    code = "Transient.ConcurrentModification"
    advice = "Nothing to do: another change was in flight and the workflow retries."


ACCOUNT_FAILURE_ADVICE: dict[str, str] = {
    "EMAIL_ALREADY_EXISTS": (
        "Another AWS account already uses this root email. Choose another stream name, "
        "or change the root-email template in the org config."
    ),
    "ACCOUNT_LIMIT_EXCEEDED": (
        "The organisation has reached its account quota. Ask AWS Support for a higher "
        "account limit, then re-run the stream."
    ),
    "CONCURRENT_ACCOUNT_MODIFICATION": (
        "Organizations was busy with another account change. Re-run the stream; "
        "nothing was created."
    ),
    "INVALID_EMAIL": (
        "AWS refused the root email. Fix the root-email template in the org config, "
        "then re-run the stream."
    ),
    "INVALID_ADDRESS": "AWS refused the account's address. Check the management account's "
    "contact information, then re-run the stream.",
    "INVALID_IDENTITY_FOR_BUSINESS_VALIDATION": "AWS could not validate the business identity "
    "of the management account. Contact AWS Support, then re-run the stream.",
    "INVALID_PAYMENT_INSTRUMENT": "The management account has no valid payment method. "
    "Add one in the billing console, then re-run the stream.",
    "PENDING_BUSINESS_VALIDATION": "AWS is still validating the management account. "
    "Wait for the validation to finish, then re-run the stream.",
    "MISSING_BUSINESS_VALIDATION": "The management account needs business validation. "
    "Complete it in the console, then re-run the stream.",
    "MISSING_PAYMENT_INSTRUMENT": "The management account has no payment method. "
    "Add one in the billing console, then re-run the stream.",
    "FAILED_BUSINESS_VALIDATION": "AWS rejected the management account's business "
    "validation. Contact AWS Support.",
    "UPDATE_EXISTING_RESOURCE_POLICY_WITH_TAGS_NOT_SUPPORTED": "A resource policy blocks "
    "tagging the new account. Remove the tags from the request or fix the policy.",
    "UNKNOWN_BUSINESS_VALIDATION": "AWS could not validate the management account. "
    "Contact AWS Support.",
    "GOVCLOUD_ACCOUNT_ALREADY_EXISTS": "A GovCloud account already exists for this email. "
    "Choose another stream name.",
    "INTERNAL_FAILURE": (
        "AWS Organizations failed internally. Re-run the stream; if it fails again, "
        "contact AWS Support with the CreateAccount request id."
    ),
}


class AccountCreationFailed(OrgvendError):
    """CreateAccount ended FAILED; ``code`` names AWS's FailureReason."""

    code = "AccountCreationFailed"

    def __init__(self, reason: str, *, email: str, request_id: str) -> None:
        self.reason = reason
        self.code = f"AccountCreationFailed.{reason}"
        self.advice = ACCOUNT_FAILURE_ADVICE.get(
            reason, "Read the reason in the Organizations console, fix it, re-run the stream."
        )
        super().__init__(
            f"CreateAccount {request_id} for {email} failed with {reason}. {self.advice}"
        )


class AccountNotUsable(OrgvendError):
    code = "AccountNotUsable"
    advice = (
        "The new account did not accept its access role in time. Re-run the stream; "
        "the account is kept and reused."
    )


class NotYetUsable(OrgvendError):
    """The new account does not accept its role yet; the workflow waits and asks again."""

    code = "Transient.NotYetUsable"
    advice = "Nothing to do: new accounts take a little while to accept their role."


class CidrPoolExhausted(OrgvendError):
    code = "CidrPoolExhausted"
    advice = "Every range in the stream CIDR pool is taken. Add a pool or free an allocation."


class CidrOverlap(OrgvendError):
    code = "CidrOverlap"
    advice = "Request a CIDR that overlaps nothing, or leave `cidr` out to get one allocated."


class CidrOutsidePool(OrgvendError):
    code = "CidrOutsidePool"
    advice = "Request a CIDR inside the org's stream pool, or leave `cidr` out."


class PeeringRejected(OrgvendError):
    code = "PeeringRejected"
    advice = (
        "The operations account did not accept the VPC peering. Check the operations "
        "networking role and the peering in the EC2 console, then re-run the stream."
    )


class PeeringPending(OrgvendError):
    """The peering request has not reached the operations account yet (AWS takes seconds)."""

    code = "Transient.PeeringPending"
    advice = "Nothing to do: the workflow retries until operations can accept the peering."


class HubNetworkMissing(OrgvendError):
    code = "HubNetworkMissing"
    advice = (
        "The operations account has no hub VPC tagged orgvend:network=hub. Run "
        "`orgvend bootstrap` to create it, then re-run the stream."
    )


class RoleInstallationDenied(OrgvendError):
    code = "RoleInstallationDenied"
    advice = (
        "IAM refused to create or update a standard role. Check that the member-account "
        "role may manage IAM roles and that no SCP blocks it, then re-run the stream."
    )


class AccountCreationPending(OrgvendError):
    code = "AccountCreationPending"
    advice = (
        "CreateAccount is still in progress. Run the bootstrap again later: it resumes the "
        "same request instead of creating a second account."
    )


class AllFeaturesNotEnabled(OrgvendError):
    code = "AllFeaturesNotEnabled"
    advice = (
        "The organisation has consolidated billing only, so it cannot hold SCPs. Enable all "
        "features (Organizations console > Settings; every member account must approve), "
        "then run the bootstrap again."
    )
