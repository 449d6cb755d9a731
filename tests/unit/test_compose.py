"""docker-compose.yml: no Docker engine runs here, so check what it declares."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def load() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def test_services_and_images() -> None:
    services = load()["services"]
    assert set(services) == {
        "kafka",
        "redis",
        "worker",
        "worker-gpu",
        "redis-node-1",
        "redis-node-2",
        "redis-node-3",
        "redis-cluster-init",
        "worker-cluster",
    }
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["redis"]["image"].startswith("redis:")
    assert services["worker"]["build"] == "."


def test_kafka_runs_in_kraft_mode_without_zookeeper() -> None:
    services = load()["services"]
    env = services["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "KAFKA_CONTROLLER_QUORUM_VOTERS" in env
    assert not any("zookeeper" in name.lower() for name in services)
    assert services["kafka"]["ports"] == ["9092:9092"]


def test_redis_keeps_an_append_only_file() -> None:
    command = load()["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"


def test_every_service_has_a_health_check_and_workers_wait_for_healthy() -> None:
    services = load()["services"]
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
    for name in ("worker", "worker-gpu"):
        depends = services[name]["depends_on"]
        assert depends == {
            "kafka": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
        env = services[name]["environment"]
        assert env["PULSE_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["PULSE_REDIS_URL"].startswith("redis://redis:6379")


def test_gpu_worker_is_a_profile_with_an_nvidia_device() -> None:
    gpu = load()["services"]["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    assert gpu["environment"]["PULSE_DEVICE"] == "cuda"
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert load()["services"]["worker"]["environment"]["PULSE_DEVICE"] == "cpu"
    # Its image carries the CUDA libraries: the build argument reaches pip as an extra that
    # pulls them in (without them the encoder refuses PULSE_DEVICE=cuda).
    assert gpu["build"]["args"]["PULSE_EXTRAS"] == "gpu"
    assert gpu["image"] != load()["services"]["worker"]["image"]
    dockerfile = (COMPOSE.parent / "Dockerfile").read_text()
    assert 'ARG PULSE_EXTRAS=""' in dockerfile  # the CPU image: no extra
    pyproject = tomllib.loads((COMPOSE.parent / "pyproject.toml").read_text())
    gpu_extra = pyproject["project"]["optional-dependencies"]["gpu"]
    assert any(d.startswith("onnxruntime-gpu[cuda,cudnn]") for d in gpu_extra)


ROOT = COMPOSE.parent


def test_the_image_copies_every_package_and_the_workers_get_the_model() -> None:
    """The image's file list: every top-level package the project has (so nothing the worker
    imports is missing), and a model at the path the worker reads."""
    import ast

    dockerfile = (ROOT / "Dockerfile").read_text()
    # the compiled kernels: built in their own stage, installed from the wheel
    assert "COPY kernels /kernels" in dockerfile
    assert 'pip install /wheels/*.whl ".${PULSE_EXTRAS:+[$PULSE_EXTRAS]}"' in dockerfile
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    copied = {
        line.split()[1]
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from" not in line
    }
    assert packages <= copied, f"not in the image: {sorted(packages - copied)}"
    imported = set()
    for path in ROOT.glob("*/**/*.py"):
        if path.parts[len(ROOT.parts)] in packages:
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    imported.add(node.module.split(".")[0])
                elif isinstance(node, ast.Import):
                    imported.update(a.name.split(".")[0] for a in node.names)
    assert imported & {p.parent.name for p in ROOT.glob("*/__init__.py")} <= copied
    for name in ("worker", "worker-gpu"):
        assert "./onnx_models:/app/onnx_models:ro" in load()["services"][name]["volumes"]


def test_the_cluster_profile_runs_three_masters_and_workers_on_them() -> None:
    services = load()["services"]
    nodes = [f"redis-node-{n}" for n in (1, 2, 3)]
    for name in [*nodes, "redis-cluster-init", "worker-cluster"]:
        assert services[name]["profiles"] == ["cluster"], name
    for name in nodes:
        node = services[name]
        command = node["command"][-1]
        assert node["hostname"] == name and node["volumes"] == [f"{name}:/data"]
        assert "--cluster-enabled yes" in command and "--appendonly yes" in command
        assert "--cluster-announce-hostname" in command
        assert "--cluster-preferred-endpoint-type hostname" in command
    init = services["redis-cluster-init"]
    create = init["entrypoint"][-1]
    assert "--cluster create --cluster-replicas 0" in create and "getent hosts" in create
    assert set(init["depends_on"]) == set(nodes)
    worker = services["worker-cluster"]
    assert worker["environment"]["PULSE_REDIS_CLUSTER"] == "true"
    assert worker["environment"]["PULSE_REDIS_URL"].startswith("redis://redis-node-1:6379")
    assert worker["depends_on"]["redis-cluster-init"] == {
        "condition": "service_completed_successfully"
    }
    assert worker["build"] == services["worker"]["build"]
    assert "./onnx_models:/app/onnx_models:ro" in worker["volumes"]
    assert "# On a 3-master Redis Cluster" in COMPOSE.read_text()
