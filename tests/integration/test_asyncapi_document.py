"""The committed AsyncAPI document is valid for the official AsyncAPI parser (@asyncapi/parser)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from ansinh.runtime.settings import REPO_ROOT

PARSER_VERSION = "3.6.6"


@pytest.fixture(scope="session")
def asyncapi_parser(platform) -> str:
    # Never skipped: ./run installs Node.js and npm (Debian's nodejs, npm) on a fresh machine.
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    assert not missing, (f"{' and '.join(missing)} not found: the official AsyncAPI parser needs Node.js; "
                         "`./run test` installs it (apt-get install nodejs npm)")
    prefix = platform.state_dir / "asyncapi-parser"
    if not (prefix / "node_modules" / "@asyncapi" / "parser").exists():
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(prefix),
                        f"@asyncapi/parser@{PARSER_VERSION}"], check=True, capture_output=True, timeout=600)
    script = prefix / "check.mjs"
    shutil.copy(REPO_ROOT / "tests" / "tools" / "asyncapi_check.mjs", script)
    return str(script)


def test_the_official_asyncapi_parser_accepts_the_document_without_errors(asyncapi_parser):
    result = subprocess.run(["node", asyncapi_parser, str(REPO_ROOT / "schemas" / "asyncapi.json")],
                            capture_output=True, text=True, timeout=120)
    errors = [line for line in result.stdout.splitlines() if line.startswith("severity=0")]
    assert errors == [] and "PARSED OK" in result.stdout, result.stdout + result.stderr
