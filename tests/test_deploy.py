"""The compose file, the image and the S3 server's key file, checked statically (Docker itself
is not needed): health checks, one image, the adapter mount, keys from the environment,
pinned versions, no published database, torch cached in its own layer, no root."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text().splitlines()
CONFIG_SCRIPT = ROOT / "deploy" / "seaweedfs-s3-config.sh"


@pytest.mark.parametrize("name", ["worker", "sweep"])
def test_worker_and_sweep_have_health_checks(name: str) -> None:
    check = SERVICES[name]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1
    assert not check.get("disable")


def test_the_sweep_check_reads_the_file_the_sweep_touches() -> None:
    command = SERVICES["sweep"]["command"]
    heartbeat = command[command.index("--heartbeat") + 1]
    assert "--every" in command
    assert heartbeat in SERVICES["sweep"]["healthcheck"]["test"][1]


def test_the_worker_check_asks_the_metrics_port() -> None:
    port = COMPOSE["x-pronscore-env"]["PRONSCORE_METRICS_PORT"]
    assert f"127.0.0.1:{port}/metrics" in " ".join(SERVICES["worker"]["healthcheck"]["test"])


def test_services_built_here_share_one_image_name() -> None:
    built = {name: service for name, service in SERVICES.items() if "build" in service}
    assert set(built) == {"migrate", "worker", "sweep"}
    assert len({service.get("image") for service in built.values()}) == 1
    assert None not in {service.get("image") for service in built.values()}


def test_the_adapter_folder_is_mounted_into_the_worker() -> None:
    mounts = [volume.rsplit(":", 2) for volume in SERVICES["worker"]["volumes"]]
    assert ["/adapters", "ro"] in [mount[1:] for mount in mounts]
    assert "PRONSCORE_ADAPTER" in COMPOSE["x-pronscore-env"]


def test_s3_keys_come_from_the_variables_pronscore_reads() -> None:
    s3, shared = SERVICES["s3"], COMPOSE["x-pronscore-env"]
    for variable in ("PRONSCORE_S3_ACCESS_KEY_ID", "PRONSCORE_S3_SECRET_ACCESS_KEY"):
        assert s3["environment"][variable] == shared[variable]
        assert shared[variable].startswith("${" + variable)
        assert ":-" not in shared[variable], "no default key: a known secret is no secret"
    assert not (ROOT / "deploy" / "seaweedfs-s3.json").exists()
    assert CONFIG_SCRIPT.name in " ".join(s3["entrypoint"])


def test_the_seaweedfs_image_is_pinned() -> None:
    image = SERVICES["s3"]["image"]
    assert re.fullmatch(r"[\w./-]+:\d+(\.\d+)+", image), image


def test_postgres_is_not_published_and_has_no_fixed_password() -> None:
    postgres = SERVICES["postgres"]
    assert "ports" not in postgres
    password = postgres["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD") and ":-" not in password
    assert "${POSTGRES_PASSWORD" in COMPOSE["x-pronscore-env"]["PRONSCORE_DATABASE_URL"]


def _line(predicate) -> int:
    return next(i for i, line in enumerate(DOCKERFILE) if predicate(line))


def test_torch_is_installed_before_any_code_is_copied() -> None:
    torch = _line(lambda line: line.startswith("RUN") and "torch" in line)
    first_copy = _line(lambda line: line.startswith("COPY"))
    assert torch < first_copy
    assert "pip install" in DOCKERFILE[torch] and "&&" not in DOCKERFILE[torch]


def test_the_image_runs_as_an_unprivileged_user_with_a_health_check() -> None:
    users = [line.split()[1] for line in DOCKERFILE if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert _line(lambda line: line.startswith("USER")) > _line(lambda line: line.startswith("RUN pip install"))
    assert any(line.startswith("HEALTHCHECK") for line in DOCKERFILE)


def _run_config_script(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """The entrypoint with a stand-in `weed` that prints its arguments."""
    (tmp_path / "weed").write_text('#!/bin/sh\necho "weed $*"\n')
    (tmp_path / "weed").chmod(0o755)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PRONSCORE_S3_")}
    variables = {**clean, "PATH": f"{tmp_path}:{os.environ['PATH']}", "SEAWEEDFS_S3_CONFIG": str(tmp_path / "s3.json")}
    return subprocess.run(
        ["/bin/sh", str(CONFIG_SCRIPT), "server", "-s3"], env={**variables, **env}, capture_output=True, text=True
    )


def test_the_s3_server_config_is_written_from_the_environment(tmp_path: Path) -> None:
    done = _run_config_script(tmp_path, PRONSCORE_S3_ACCESS_KEY_ID="key-1", PRONSCORE_S3_SECRET_ACCESS_KEY="s3cr3t")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"weed server -s3 -s3.config={tmp_path / 's3.json'}"
    (identity,) = json.loads((tmp_path / "s3.json").read_text())["identities"]
    assert identity["credentials"] == [{"accessKey": "key-1", "secretKey": "s3cr3t"}]
    assert (tmp_path / "s3.json").stat().st_mode & 0o077 == 0


def test_the_s3_server_refuses_to_start_without_keys_or_with_quotes(tmp_path: Path) -> None:
    missing = _run_config_script(tmp_path, PRONSCORE_S3_ACCESS_KEY_ID="key-1")
    assert missing.returncode != 0 and "PRONSCORE_S3_SECRET_ACCESS_KEY" in missing.stderr
    quoted = _run_config_script(tmp_path, PRONSCORE_S3_ACCESS_KEY_ID='k"1', PRONSCORE_S3_SECRET_ACCESS_KEY="s")
    assert quoted.returncode == 2 and "quotes" in quoted.stderr
    assert not (tmp_path / "s3.json").exists()
