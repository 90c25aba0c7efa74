"""DRF permission classes by role (see ``testenv.roles``).

Who may do what through the API:

- operators (staff): everything, including editing integration endpoints;
- testers: read everything, run sessions and workflows, submit feedback, and
  change only the sessions they own;
- product owners: read everything and triage feedback;
- an authenticated user without a role: nothing (403).

Anonymous requests get 401 (not 403) because ``TokenAuthentication`` is the
first authentication class and sends ``WWW-Authenticate: Token``.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission

from testenv.roles import is_operator, is_product_owner, is_tester


def has_any_role(user: Any) -> bool:
    return is_operator(user) or is_tester(user) or is_product_owner(user)


class _RolePermission(BasePermission):
    message = "Your role does not allow this action."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return self.allows(user, request.method in SAFE_METHODS)

    def allows(self, user: Any, safe: bool) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


class HasAnyRole(_RolePermission):
    """Any operator, tester or product owner, for any method."""

    def allows(self, user: Any, safe: bool) -> bool:
        return has_any_role(user)


class IsOperator(_RolePermission):
    message = "Only operators may do this."

    def allows(self, user: Any, safe: bool) -> bool:
        return is_operator(user)


class IsTester(_RolePermission):
    """Testers and operators."""

    message = "Only testers may do this."

    def allows(self, user: Any, safe: bool) -> bool:
        return is_tester(user)


class IsProductOwner(_RolePermission):
    """Product owners and operators."""

    message = "Only product owners may do this."

    def allows(self, user: Any, safe: bool) -> bool:
        return is_product_owner(user)


class ReadAnyRoleWriteOperator(_RolePermission):
    message = "Only operators may change this."

    def allows(self, user: Any, safe: bool) -> bool:
        return has_any_role(user) if safe else is_operator(user)


class ReadAnyRoleWriteTester(_RolePermission):
    message = "Only testers may change this."

    def allows(self, user: Any, safe: bool) -> bool:
        return has_any_role(user) if safe else is_tester(user)


class ReadAnyRoleWriteTriager(_RolePermission):
    """Reads for every role; writes for product owners and operators (triage)."""

    message = "Only product owners and operators may change this."

    def allows(self, user: Any, safe: bool) -> bool:
        return has_any_role(user) if safe else is_product_owner(user)


class IsOwnerOrOperatorForWrites(BasePermission):
    """Object permission: unsafe methods only by the owner or an operator.

    The view names the owner with ``owner_field`` (default ``"tester_id"``);
    the object's attribute is compared with the user's id. Combine it with a
    role permission, which decides who may call the view at all.
    """

    message = "You can only change what you own."

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS or is_operator(request.user):
            return True
        owner_field = getattr(view, "owner_field", "tester_id")
        return getattr(obj, owner_field, None) == request.user.pk


__all__ = [
    "HasAnyRole",
    "IsOperator",
    "IsOwnerOrOperatorForWrites",
    "IsProductOwner",
    "IsTester",
    "ReadAnyRoleWriteOperator",
    "ReadAnyRoleWriteTester",
    "ReadAnyRoleWriteTriager",
    "has_any_role",
]
