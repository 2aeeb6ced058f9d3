"""Fixtures: a private broker per session, a fresh migrated database per test."""
from __future__ import annotations

import os
import uuid

import pytest

from tests.support import services


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    b = services.start_broker(tmp_path_factory.mktemp("broker"))
    yield b
    b.stop()


@pytest.fixture(scope="session")
def template_db():
    from cloud.db.migrate import migrate

    name = f"gw_tpl_{os.getpid()}"
    dsn = services.create_database(name)
    migrate(dsn)
    yield name
    services.drop_database(name)


@pytest.fixture
def db_url(template_db):
    name = f"gw_t_{uuid.uuid4().hex[:12]}"
    dsn = services.create_database(name, template=template_db)
    yield dsn
    services.drop_database(name)
