"""The package layering (docs/runtime.md): checked by import-linter and by a cycle search over the import graph."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

from ansinh.runtime.settings import REPO_ROOT


def test_import_contracts_of_pyproject_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_no_module_of_ours_is_part_of_an_import_cycle():
    graph = grimp.build_graph("ansinh", "services", "schemas", cache_dir=None)
    cycles = []
    for importer in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(importer):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                cycles.append(f"{importer} -> {' -> '.join(back)}")
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def test_the_service_image_leaves_the_development_platform_out():
    copies = [line.split()[1:-1] for line in (REPO_ROOT / "Dockerfile").read_text().splitlines()
              if line.startswith("COPY ")]
    sources = [source.rstrip("/") for sources in copies for source in sources]
    assert "ansinh/runtime" in sources and "ansinh/ops" in sources
    assert "ansinh" not in sources and not any("devplatform" in source for source in sources)


def test_the_cli_says_the_development_platform_is_missing_where_the_image_leaves_it_out(tmp_path):
    # The image's layout: the ansinh package without ansinh/devplatform (as the Dockerfile copies it).
    import shutil

    shutil.copytree(REPO_ROOT / "ansinh", tmp_path / "ansinh", ignore=shutil.ignore_patterns("devplatform", "__pycache__"))
    for package in ("schemas", "services"):
        shutil.copytree(REPO_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    # Only the copied tree may answer imports: the checkout's editable-install finder would find devplatform.
    program = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]; "
               "from ansinh.cli import main; sys.exit(main(['platform', 'up']))")
    result = subprocess.run([sys.executable, "-c", program],
                            cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "not part of this installation" in result.stdout
