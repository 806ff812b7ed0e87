"""The policy documents orgvend installs: users-account IAM policies and the SCPs.

Pure functions, so a test can read exactly what a person would be granted or denied. moto
enforces none of these, which is why their shape is tested here rather than their effect.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "IAM_ADMINS_GROUP",
    "SCP_MAX_CHARS",
    "SELF_SERVICE_POLICY",
    "compact",
    "iam_admin_policy",
    "live_scp",
    "self_service_policy",
    "users_assume_policy",
    "vault_scp",
]

SCP_MAX_CHARS = 5120
"""Organizations refuses an SCP whose content is longer than this."""

IAM_ADMINS_GROUP = "iam-admins"
SELF_SERVICE_POLICY = "self-service"

_VERSION = "2012-10-17"
_MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
_OWN_USER = "arn:aws:iam::*:user/${aws:username}"
_OWN_MFA = "arn:aws:iam::*:mfa/${aws:username}"

Document = dict[str, Any]


def compact(document: Document) -> str:
    """The document as Organizations stores it: no whitespace, so it fits the size limit."""
    return json.dumps(document, separators=(",", ":"))


def _doc(*statements: Document) -> Document:
    return {"Version": _VERSION, "Statement": list(statements)}


def users_assume_policy(role_name: str) -> Document:
    """May assume ``role_name`` in any account, with MFA: consistent role names make it work."""
    return _doc(
        {
            "Sid": "AssumeStandardRole",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": f"arn:aws:iam::*:role/{role_name}",
            "Condition": _MFA,
        }
    )


_MFA_SETUP_ACTIONS = [
    "iam:ChangePassword",
    "iam:CreateVirtualMFADevice",
    "iam:EnableMFADevice",
    "iam:GetAccountPasswordPolicy",
    "iam:GetMFADevice",
    "iam:GetUser",
    "iam:ListMFADevices",
    "iam:ListVirtualMFADevices",
    "iam:ResyncMFADevice",
    "sts:GetSessionToken",
]


def self_service_policy() -> Document:
    """Own password, access keys and MFA device, and nothing at all until MFA is on.

    AWS's own "force MFA" pattern: the final Deny leaves only what a person needs to sign in
    the first time, set a password and register a device.
    """
    return _doc(
        {
            "Sid": "ViewAccountInfo",
            "Effect": "Allow",
            "Action": ["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"],
            "Resource": "*",
        },
        {
            "Sid": "ManageOwnPasswordAndKeys",
            "Effect": "Allow",
            "Action": [
                "iam:ChangePassword",
                "iam:GetUser",
                "iam:CreateAccessKey",
                "iam:DeleteAccessKey",
                "iam:ListAccessKeys",
                "iam:UpdateAccessKey",
                "iam:GetAccessKeyLastUsed",
            ],
            "Resource": _OWN_USER,
        },
        {
            "Sid": "ManageOwnVirtualMFADevice",
            "Effect": "Allow",
            "Action": ["iam:CreateVirtualMFADevice", "iam:DeleteVirtualMFADevice"],
            "Resource": _OWN_MFA,
        },
        {
            "Sid": "ManageOwnUserMFA",
            "Effect": "Allow",
            "Action": [
                "iam:DeactivateMFADevice",
                "iam:EnableMFADevice",
                "iam:GetMFADevice",
                "iam:ListMFADevices",
                "iam:ResyncMFADevice",
            ],
            "Resource": [_OWN_USER, _OWN_MFA],
        },
        {
            "Sid": "DenyAllExceptMfaSetupWithoutMfa",
            "Effect": "Deny",
            "NotAction": _MFA_SETUP_ACTIONS,
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
    )


_USER_ADMIN_ACTIONS = [
    "iam:CreateUser",
    "iam:DeleteUser",
    "iam:GetUser",
    "iam:TagUser",
    "iam:UntagUser",
    "iam:ListUserTags",
    "iam:CreateLoginProfile",
    "iam:GetLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:DeleteLoginProfile",
    "iam:ListAccessKeys",
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
    "iam:ListMFADevices",
    "iam:DeactivateMFADevice",
    "iam:ResyncMFADevice",
    "iam:ListGroupsForUser",
    "iam:ListAttachedUserPolicies",
    "iam:AddUserToGroup",
    "iam:RemoveUserFromGroup",
]


def iam_admin_policy(users_account_id: str) -> Document:
    """Manage the users account's people and their group memberships, never permissions.

    No action here creates, attaches or edits a policy or role, so an IAM admin cannot give
    anyone (themselves included) more than the groups orgvend defines. Membership of
    ``iam-admins`` follows the ``-admin`` naming convention and is orgvend's to manage.
    ``DetachUserPolicy`` is allowed for the self-service policy only: IAM refuses to delete a
    user that still has a policy attached.
    """
    arn = f"arn:aws:iam::{users_account_id}"
    return _doc(
        {
            "Sid": "ListPeople",
            "Effect": "Allow",
            "Action": ["iam:ListUsers", "iam:ListGroups", "iam:GetGroup"],
            "Resource": "*",
            "Condition": _MFA,
        },
        {
            "Sid": "ManageUsersAndMembership",
            "Effect": "Allow",
            "Action": _USER_ADMIN_ACTIONS,
            "Resource": [f"{arn}:user/*", f"{arn}:group/*"],
            "Condition": _MFA,
        },
        {
            "Sid": "DetachSelfServiceToDeleteUser",
            "Effect": "Allow",
            "Action": "iam:DetachUserPolicy",
            "Resource": f"{arn}:user/*",
            "Condition": {
                **_MFA,
                "ArnEquals": {"iam:PolicyARN": f"{arn}:policy/{SELF_SERVICE_POLICY}"},
            },
        },
        {
            "Sid": "IamAdminsFollowNamingConvention",
            "Effect": "Deny",
            "Action": ["iam:AddUserToGroup", "iam:RemoveUserFromGroup"],
            "Resource": f"{arn}:group/{IAM_ADMINS_GROUP}",
        },
    )


def _exempt(*roles: str) -> Document:
    return {"ArnNotLike": {"aws:PrincipalArn": [f"arn:aws:iam::*:role/{r}" for r in roles]}}


_VAULT_WRITES = [
    "s3:Put*",
    "s3:Delete*",
    "s3:BypassGovernanceRetention",
    "dynamodb:Delete*",
    "dynamodb:Put*",
    "dynamodb:Update*",
    "backup:Delete*",
    "backup:Update*",
    "backup:Put*",
    "glacier:Delete*",
    "glacier:AbortVaultLock",
    "cloudtrail:DeleteTrail",
    "cloudtrail:StopLogging",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:PutKeyPolicy",
    "logs:Delete*",
    "logs:PutRetentionPolicy",
    "ec2:DeleteSnapshot",
    "rds:DeleteDBSnapshot",
    "rds:DeleteDBClusterSnapshot",
]


def vault_scp(*, audit_role: str, member_role: str) -> Document:
    """Evidence in the vault is written by services, changed only by audit and by orgvend."""
    return _doc(
        {
            "Sid": "VaultReadOnly",
            "Effect": "Deny",
            "Action": _VAULT_WRITES,
            "Resource": "*",
            "Condition": _exempt(audit_role, member_role),
        }
    )


_TRAIL_ACTIONS = [
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
]
_ROLE_ACTIONS = [
    "iam:DeleteRole",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:TagRole",
    "iam:UntagRole",
]


def live_scp(*, protected_roles: list[str], member_role: str) -> Document:
    """Live accounts stay in the organisation, keep their trail, and keep orgvend's roles.

    Only the member role (orgvend itself) may change the standard roles or itself, so an
    administrator of a live account cannot widen who may enter it.
    """
    roles = [*protected_roles, member_role]
    return _doc(
        {
            "Sid": "StayInOrganization",
            "Effect": "Deny",
            "Action": "organizations:LeaveOrganization",
            "Resource": "*",
        },
        {
            "Sid": "KeepTrail",
            "Effect": "Deny",
            "Action": _TRAIL_ACTIONS,
            "Resource": "*",
            "Condition": _exempt(member_role),
        },
        {
            "Sid": "ProtectStandardRoles",
            "Effect": "Deny",
            "Action": _ROLE_ACTIONS,
            "Resource": [f"arn:aws:iam::*:role/{r}" for r in roles],
            "Condition": _exempt(member_role),
        },
    )
