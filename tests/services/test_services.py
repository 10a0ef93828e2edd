"""Organizations, users and API keys."""

from __future__ import annotations

import pytest

from labelport import services
from labelport.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound


def test_keys_authenticate_and_tampered_keys_do_not(store, org):
    uid = services.ensure_user(store, org.id, "ann@acme.test", "admin")
    key = services.create_api_key(store, org.id, uid)
    who = services.authenticate(store, key)
    assert (who.user_id, who.org_id, who.role) == (uid, org.id, "admin")
    key_id, secret = key.removeprefix("lp_").split("_", 1)
    assert services.authenticate_pair(store, key_id, secret).user_id == uid
    for bad in (key[:-1] + ("A" if key[-1] != "A" else "B"), "lp_nope_x", "garbage"):
        with pytest.raises(AuthenticationFailed):
            services.authenticate(store, bad)


def test_organizations(store):
    a = services.create_organization(store, "a", "Asia/Tokyo")
    assert services.find_organization(store) == a
    with pytest.raises(Conflict):
        services.create_organization(store, "a")
    with pytest.raises(InvalidInput):
        services.create_organization(store, "b", "Mars/Olympus")
    services.create_organization(store, "b")
    with pytest.raises(InvalidInput, match="several organizations"):
        services.find_organization(store)
    with pytest.raises(NotFound):
        services.find_organization(store, "zzz")


def test_roles_are_checked(store, org):
    with pytest.raises(InvalidInput):
        services.ensure_user(store, org.id, "x@acme.test", "owner")
