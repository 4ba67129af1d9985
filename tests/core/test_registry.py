"""The model registry: immutable versions, atomic alias moves under concurrent promotions."""

import multiprocessing
import threading

import orjson
import pytest
from labelloop.components.core.registry import ModelRegistry, RegistryError


@pytest.fixture()
def model_folder(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.skops").write_bytes(b"weights")
    (folder / "metadata.json").write_text("{}")
    return str(folder)


def test_versions_are_immutable_and_lineage_kept(tmp_path, model_folder):
    registry = ModelRegistry(str(tmp_path / "reg"))
    first = registry.register("digits", model_folder, {"dataset_version": "d1", "pipeline_run": "r1"})
    second = registry.register("digits", model_folder, {"dataset_version": "d2"})
    assert (first.version, second.version) == ("1", "2") and registry.versions("digits") == ["1", "2"]
    assert registry.get("digits", "1").lineage["dataset_version"] == "d1"
    registry.register("digits", model_folder, {}, version="gold")
    with pytest.raises(RegistryError, match="immutable"):
        registry.register("digits", model_folder, {}, version="gold")


def test_promote_moves_alias_and_keeps_previous(tmp_path, model_folder):
    registry = ModelRegistry(str(tmp_path / "reg"))
    for _ in range(2):
        registry.register("m", model_folder, {})
    registry.promote("m", "1")
    registry.promote("m", "2")
    assert registry.aliases("m") == {"champion": "2", "previous": "1"}
    with pytest.raises(RegistryError, match="no complete version '9'"):
        registry.set_alias("m", "champion", "9")
    with pytest.raises(RegistryError, match="must match"):
        registry.set_alias("m", "Bad Alias", "1")


def test_concurrent_promotions_from_threads_leave_a_whole_alias(tmp_path, model_folder):
    registry = ModelRegistry(str(tmp_path / "reg"))
    versions = [registry.register("m", model_folder, {}).version for _ in range(8)]
    threads = [
        threading.Thread(target=lambda v=v: [registry.set_alias("m", "champion", v) for _ in range(10)])
        for v in versions
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    raw = (tmp_path / "reg" / "m" / "aliases" / "champion.json").read_bytes()
    assert orjson.loads(raw)["version"] in versions
    assert len(registry.alias_history("m")) == 80  # no move lost
    assert not list((tmp_path / "reg" / "m" / "aliases").glob("*.tmp-*"))


def _promote_many(root, version, count):
    registry = ModelRegistry(root)
    for _ in range(count):
        registry.set_alias("m", "champion", version)


def test_concurrent_registration_and_promotion_from_processes(tmp_path, model_folder):
    root = str(tmp_path / "reg")
    registry = ModelRegistry(root)
    context = multiprocessing.get_context("fork")
    registering = [context.Process(target=ModelRegistry(root).register, args=("m", model_folder, {})) for _ in range(6)]
    for p in registering:
        p.start()
    for p in registering:
        p.join()
    versions = registry.versions("m")
    assert versions == [str(i) for i in range(1, 7)]  # every concurrent registration got its own version
    movers = [context.Process(target=_promote_many, args=(root, v, 15)) for v in versions]
    for p in movers:
        p.start()
    for p in movers:
        p.join()
    assert registry.alias("m", "champion") in versions
    assert len(registry.alias_history("m")) == 90
