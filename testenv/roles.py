"""Who may do what. Operators are staff users; the other roles are groups."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

TESTERS = "testers"
PRODUCT_OWNERS = "product_owners"
ROLE_GROUPS = (TESTERS, PRODUCT_OWNERS)


def _in_group(user: AbstractBaseUser | AnonymousUser, name: str) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.groups.filter(name=name).exists()
    )


def is_operator(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_staff)


def is_tester(user) -> bool:
    return is_operator(user) or _in_group(user, TESTERS)


def is_product_owner(user) -> bool:
    return is_operator(user) or _in_group(user, PRODUCT_OWNERS)
