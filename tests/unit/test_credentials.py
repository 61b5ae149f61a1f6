"""The local platform's secrets and the environment a service process gets from it."""
from __future__ import annotations

import json
import stat

import pytest

from ansinh.ops.credentials import LocalSecrets, local_service_env, password_env
from ansinh.ops.provision import ProvisionError, check_password
from ansinh.runtime.settings import SERVICES, MissingCredentials, PlatformSettings, ServiceSettings


def test_secrets_are_random_private_created_once_and_different_per_service(tmp_path):
    first = LocalSecrets(tmp_path)
    passwords = {s: first.db_password(s) for s in SERVICES}
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    assert len(set(passwords.values())) == len(SERVICES) and all(len(p) >= 24 for p in passwords.values())
    assert {s: LocalSecrets(tmp_path).db_password(s) for s in SERVICES} == passwords  # kept, not regenerated
    assert LocalSecrets(tmp_path / "other").db_password("collection") != passwords["collection"]


def test_a_service_process_gets_its_own_credentials_and_nobody_elses(tmp_path):
    settings = PlatformSettings(state_dir=tmp_path, database_url="postgresql://postgres:admin@db.internal:5433/ansinh")
    base = {"PATH": "/usr/bin", "DATABASE_URL": settings.database_url, "ANSINH_DB_PASSWORD": "someone-elses",
            password_env("arrears"): "arrears-password-0123456789", "ANSINH_API_TOKENS": "[]"}
    env = local_service_env(settings, "collection", base)
    assert "DATABASE_URL" not in env and "ANSINH_DB_PASSWORD" not in env and password_env("arrears") not in env
    assert env["PATH"] == "/usr/bin"
    own = LocalSecrets(tmp_path).db_password("collection")
    assert env["ANSINH_DB_URL"] == f"postgresql://ansinh_collection:{own}@db.internal:5433/ansinh"
    operator, approver = json.loads(env["ANSINH_API_TOKENS"])
    assert operator["token"] == LocalSecrets(tmp_path).operator_token() and "personal_data:read" in operator["roles"]
    # maker-checker: the one who prepares a payment run cannot approve it; a second local principal does
    assert "payments:prepare" in operator["roles"] and "payments:approve" not in operator["roles"]
    assert approver["token"] == LocalSecrets(tmp_path).approver_token() != operator["token"]
    assert approver["principal"] != operator["principal"] and "payments:approve" in approver["roles"]


def test_service_settings_have_no_default_password_and_say_what_to_set(monkeypatch):
    for variable in ("ANSINH_DB_PASSWORD", "ANSINH_DB_URL"):
        monkeypatch.delenv(variable, raising=False)
    settings = ServiceSettings(service="arrears")
    assert not settings.has_credentials
    with pytest.raises(MissingCredentials, match="ANSINH_DB_PASSWORD.*ansinh_arrears"):
        settings.service_database_url
    given = ServiceSettings(service="arrears", db_password="p@ss/word:x", db_host="db", db_port=6432, db_name="x")
    assert given.service_database_url == "postgresql://ansinh_arrears:p%40ss%2Fword%3Ax@db:6432/x"


def test_provision_refuses_a_missing_or_short_password_naming_the_variable():
    with pytest.raises(ProvisionError, match="ANSINH_PAYMENTS_DB_PASSWORD"):
        check_password("payments", None)
    with pytest.raises(ProvisionError, match="shorter than 16"):
        check_password("payments", "ansinh-dev")
    assert check_password("payments", "x" * 16) == "x" * 16


def test_the_local_notifications_service_delivers_to_the_local_mailbox_unless_told_otherwise(tmp_path):
    settings = PlatformSettings(state_dir=tmp_path, mailbox_smtp_port=2600, mailbox_http_port=6170)
    env = local_service_env(settings, "notifications", {})
    assert (env["ANSINH_SMTP_HOST"], env["ANSINH_SMTP_PORT"]) == ("127.0.0.1", "2600")
    assert env["ANSINH_GATEWAY_SMS_URL"] == "http://127.0.0.1:6170/sms"
    told = local_service_env(settings, "notifications", {"ANSINH_SMTP_HOST": "mta.agency.vn"})
    assert told["ANSINH_SMTP_HOST"] == "mta.agency.vn"
    assert "ANSINH_SMTP_HOST" not in local_service_env(settings, "collection", {})
