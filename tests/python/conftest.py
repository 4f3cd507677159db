"""pytest set-up: the path of the blockscope binary and exported fixtures."""
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_addoption(parser):
    parser.addoption("--blockscope", required=True, help="path of the built blockscope binary")


@pytest.fixture(scope="session")
def blockscope(request):
    path = Path(request.config.getoption("--blockscope"))
    assert path.exists(), f"{path} does not exist: build the project first"

    def run(*args, check=True):
        result = subprocess.run([str(path), *map(str, args)], capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"blockscope {' '.join(map(str, args))} failed:\n{result.stderr}")
        return result

    return run


@pytest.fixture(scope="session")
def fixtures_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fixtures")
    subprocess.run([sys.executable, str(HERE / "export_fixtures.py"), str(out)], check=True,
                   capture_output=True)
    return out


@pytest.fixture(scope="session")
def blockscope_cli(blockscope):
    """The CLI runner, for test modules that import the `blockscope` package."""
    return blockscope
