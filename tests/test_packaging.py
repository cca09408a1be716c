"""The kit as a user installs it: the wheel, each extra in a fresh virtual environment (no editable
install, no repository on the path). Its commands start, ``pip check`` is clean, the one import name is
``inventory_push_kit`` (no top-level ``fixtures``, ``receiver``… to shadow another distribution's), and
an extra pulls nothing of the other side's server, storage or test tools."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDER_NAMES = ("receiver", "simulator", "contract_tests", "fixtures")
RECEIVER_ONLY = {"flask", "gunicorn", "gevent", "psycopg", "sqlalchemy", "alembic", "trustme"}
CONTRACT_ONLY = {"pytest", "jsonschema"}

# extra -> (commands that must start, distributions it must not install)
EXTRAS: dict[str, tuple[list[list[str]], set[str]]] = {
    "receiver": ([["inventory-receiver", "--version"], ["inventory-receiver", "check-config", "--help"],
                  ["python", "-m", "inventory_push_kit.receiver", "--help"]], CONTRACT_ONLY),
    "contract": ([["inventory-simulator", "--version"], ["inventory-simulator", "--help"],
                  ["python", "-m", "inventory_push_kit.contract_tests"],
                  ["python", "-m", "pytest", "--pyargs", "inventory_push_kit.contract_tests", "--list-rules",
                   "-p", "no:cacheprovider"]], RECEIVER_ONLY),
    "all": ([["inventory-receiver", "--version"], ["inventory-simulator", "--version"],
             ["python", "-m", "inventory_push_kit.contract_tests"]], set()),
}


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kit's wheel, built once from the working tree."""
    out = tmp_path_factory.mktemp("wheel")
    built = run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out, ROOT, cwd=out)
    assert built.returncode == 0, built.stderr
    [path] = out.glob("inventory_push_kit-*.whl")
    return path


@pytest.fixture(scope="module")
def venvs(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """extra -> the bin/ folder of a fresh venv with the wheel and that extra installed (or pip's error);
    the three are installed side by side, dependencies from pip's configured index."""

    def install(extra: str) -> Path | str:
        venv = tmp_path_factory.mktemp(f"venv-{extra}")
        created = run(sys.executable, "-m", "venv", venv, cwd=venv)
        if created.returncode:
            return created.stderr
        installed = run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-compile",
                        "--disable-pip-version-check", f"{wheel}[{extra}]", cwd=venv)
        return installed.stderr if installed.returncode else venv / "bin"

    with ThreadPoolExecutor(len(EXTRAS)) as pool:
        return dict(zip(EXTRAS, pool.map(install, EXTRAS), strict=True))


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_each_extra_installs_alone_and_its_commands_start(extra: str, venvs: dict[str, Path | str],
                                                          tmp_path: Path) -> None:
    bin_dir = venvs[extra]
    assert isinstance(bin_dir, Path), bin_dir
    elsewhere = tmp_path / "elsewhere"  # not the repository: nothing of it is on the path
    elsewhere.mkdir()

    commands, unwanted = EXTRAS[extra]
    for command in commands:
        started = run(bin_dir / command[0], *command[1:], cwd=elsewhere)
        assert started.returncode == 0, f"{command}: {started.stdout}\n{started.stderr}"
        assert started.stdout.strip(), command

    checked = run(bin_dir / "python", "-m", "pip", "check", cwd=elsewhere)
    assert checked.returncode == 0, checked.stdout
    names = run(bin_dir / "python", "-c", "import importlib.metadata as m; "
                "print('\\n'.join(sorted({d.metadata['Name'].lower() for d in m.distributions()})))", cwd=elsewhere)
    assert not set(names.stdout.split()) & unwanted, f"[{extra}] installs {set(names.stdout.split()) & unwanted}"

    probe = ("import importlib.util as u, inventory_push_kit.fixtures as f; "
             f"print([n for n in {FOLDER_NAMES!r} if u.find_spec(n)], 'site-packages' in f.__file__)")
    shadow = run(bin_dir / "python", "-c", probe, cwd=elsewhere)
    assert shadow.returncode == 0, shadow.stderr
    assert shadow.stdout.split("\n")[0] == "[] True", shadow.stdout  # no top-level name, the installed copy


def test_the_wheel_holds_one_top_level_package_and_the_data_files(wheel: Path) -> None:
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")} == {
        "inventory_push_kit"}
    for expected in ("inventory_push_kit/receiver/example.toml", "inventory_push_kit/contract_tests/decisions.md",
                     "inventory_push_kit/receiver/migrations/script.py.mako",
                     "inventory_push_kit/receiver/channels/stock.py", "inventory_push_kit/fixtures/__init__.py"):
        assert expected in names
    assert any(name.startswith("inventory_push_kit/fixtures/stock/") and name.endswith(".json") for name in names)
    assert any(name.startswith("inventory_push_kit/receiver/published/") for name in names)
