"""Shared fixtures: personas, API clients, Redis."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from testenv.roles import PRODUCT_OWNERS, TESTERS


@pytest.fixture
def operator(db) -> User:
    return User.objects.create_user(
        "olivia-operator", "olivia@example.org", "pw-operator-1", is_staff=True
    )


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root-op", "root@example.org", "pw-root-1")


@pytest.fixture
def tester(db) -> User:
    user = User.objects.create_user("tom-tester", "tom@example.org", "pw-tester-1")
    user.groups.add(Group.objects.get_or_create(name=TESTERS)[0])
    return user


@pytest.fixture
def second_tester(db) -> User:
    user = User.objects.create_user("tina-tester", "tina@example.org", "pw-tester-2")
    user.groups.add(Group.objects.get_or_create(name=TESTERS)[0])
    return user


@pytest.fixture
def product_owner(db) -> User:
    user = User.objects.create_user("pat-owner", "pat@example.org", "pw-owner-1")
    user.groups.add(Group.objects.get_or_create(name=PRODUCT_OWNERS)[0])
    return user


@pytest.fixture
def outsider(db) -> User:
    return User.objects.create_user("oscar-outsider", "oscar@example.org", "pw-out-1")


def _client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def tester_client(tester) -> APIClient:
    return _client_for(tester)


@pytest.fixture
def operator_client(operator) -> APIClient:
    return _client_for(operator)


@pytest.fixture
def owner_client(product_owner) -> APIClient:
    return _client_for(product_owner)


@pytest.fixture
def redis_client():
    from testenv.redis import get_redis

    client = get_redis()
    client.ping()
    return client
