"""Settings: the argon2 cost of password hashes (production default, bounds, re-hash)."""

from __future__ import annotations

from pathlib import Path

import argon2
import pytest
from sqlalchemy import select

from storage.models import User
from tests.conftest import DEMO_PASSWORD, Api
from workflow import create_app
from workflow.services import Services
from workflow.settings import DEFAULTS, Settings, SettingsError


def test_default_cost_is_argon2_cffis_own(tmp_path: Path) -> None:
    settings = Settings.from_mapping(DEFAULTS, tmp_path)
    hasher = settings.password_hasher()
    reference = argon2.PasswordHasher()
    assert settings.argon2_cost == (3, 65536, 4)
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (
        reference.time_cost,
        reference.memory_cost,
        reference.parallelism,
    )
    assert (hasher.hash_len, hasher.salt_len, hasher.type) == (
        reference.hash_len,
        reference.salt_len,
        reference.type,
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("ARGON2_TIME_COST", 0, "ARGON2_TIME_COST must be a positive integer"),
        ("ARGON2_PARALLELISM", "4", "ARGON2_PARALLELISM must be a positive integer"),
        ("ARGON2_MEMORY_COST", 31, "ARGON2_MEMORY_COST must be at least 8 × ARGON2_PARALLELISM"),
    ],
)
def test_unusable_cost_is_refused_at_start_up(
    tmp_path: Path, key: str, value: object, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        create_app({"INSTANCE_PATH": str(tmp_path / "instance"), key: value})


def test_a_hash_of_another_cost_is_rehashed_at_login(api: Api, services: Services) -> None:
    assert services.settings.argon2_cost == (1, 8, 1)  # the tests' cost (FAST_SETTINGS)
    strong = argon2.PasswordHasher(time_cost=2, memory_cost=1024, parallelism=2)
    with services.session_factory() as session:
        user = session.scalars(select(User).where(User.username == "kiemtra")).one()
        user.password_hash = strong.hash(DEMO_PASSWORD)
        session.commit()
    api.login("kiemtra")
    with services.session_factory() as session:
        stored = session.scalars(select(User.password_hash).where(User.username == "kiemtra")).one()
    params = argon2.extract_parameters(stored)
    assert (params.time_cost, params.memory_cost, params.parallelism) == (1, 8, 1)
    assert services.hasher.verify(stored, DEMO_PASSWORD)
