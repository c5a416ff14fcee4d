"""What the codec makes once of a schema version (its compiled writers, its bounded schema:
codec._per_fingerprint) and the versions by fingerprint (schemas.by_fingerprint).

The mutation gate forks each mutant from a process whose tests already filled the codec's
caches, so a mutant that breaks how a cache is filled went unnoticed by every test that only
encodes or decodes: here each cache is made anew in the test, and filled by it."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
import pytest

from catalog_contract import codec, schemas
from catalog_contract.bounded_decimals import MAX_DECIMAL_BYTES
from catalog_contract.errors import DecodeError
from tests.unit.test_compiled_writer import SAMPLE
from tests.unit.test_decimal_length_bound import value_with_price

V1, V2 = schemas.all_versions()


def _fastavro(record: dict[str, Any], version: schemas.SchemaVersion) -> bytes:
    body = io.BytesIO()
    fastavro.schemaless_writer(body, version.parsed, record)
    return codec.MAGIC + version.fingerprint_bytes + body.getvalue()


def test_what_is_made_of_a_version_is_made_once_and_then_found() -> None:
    made: list[int] = []

    def make(version: schemas.SchemaVersion) -> str | None:
        made.append(version.version)
        return None if version is V1 else f"made of v{version.version}"

    once = codec._per_fingerprint(make)
    assert [once(V1), once(V2), once(V1), once(V2)] == [None, "made of v2", None, "made of v2"]
    assert made == [1, 2]  # None (a schema that does not compile) is found too
    same_schema = dataclasses.replace(V2, version=7)  # found by its fingerprint
    assert once(same_schema) == "made of v2"
    assert made == [1, 2]


def test_what_failed_to_be_made_is_made_again_next_time() -> None:
    attempts: list[int] = []

    def make(version: schemas.SchemaVersion) -> int:
        attempts.append(version.version)
        if len(attempts) == 1:
            raise ValueError("the first attempt fails")
        return len(attempts)

    once = codec._per_fingerprint(make)
    with pytest.raises(ValueError, match="first attempt") as raised:
        once(V2)
    assert raised.value.__context__ is None  # not raised "during" the cache's own KeyError
    assert [once(V2), once(V2)] == [2, 2]
    assert attempts == [2, 2]


def _fresh(monkeypatch: pytest.MonkeyPatch, name: str, make: Callable[..., Any]) -> list[int]:
    """The codec's cache `name` made anew (empty) around its maker: the versions it makes."""
    made: list[int] = []

    def counted(version: schemas.SchemaVersion) -> Any:
        made.append(version.version)
        return make(version)

    monkeypatch.setattr(codec, name, codec._per_fingerprint(counted))
    return made


@pytest.mark.parametrize("version", [V1, V2], ids=["v1", "v2"])
def test_cold_writer_caches_write_fastavros_bytes(
    monkeypatch: pytest.MonkeyPatch, version: schemas.SchemaVersion
) -> None:
    records = _fresh(monkeypatch, "_record_writer", codec._compile_record)
    objects = _fresh(monkeypatch, "_object_writer", codec._compile_object)
    record = SAMPLE.to_record()
    expected = _fastavro(record, version)
    monkeypatch.setattr(fastavro, "schemaless_writer", None)  # the compiled writers write
    for _ in range(2):  # made, then found
        assert codec.encode_record(record, version) == expected
        assert codec.encode(SAMPLE, version) == expected
    assert records == objects == [version.version]


@pytest.mark.parametrize("version", [V1, V2], ids=["v1", "v2"])
def test_a_cold_bounded_schema_reads_the_record_and_refuses_a_long_price(
    monkeypatch: pytest.MonkeyPatch, version: schemas.SchemaVersion
) -> None:
    made = _fresh(monkeypatch, "_bounded", codec._bound)
    value = codec.encode(SAMPLE, version)
    body = io.BytesIO(value[codec.HEADER_SIZE :])
    resolved = None if version is V2 else V2.parsed  # (decode_record reads as the current one)
    expected = fastavro.schemaless_reader(body, version.parsed, resolved)
    too_long = value_with_price(b"\x00" * MAX_DECIMAL_BYTES + b"\x01", version)
    for _ in range(2):  # made, then found
        assert codec.decode_record(value) == expected
        with pytest.raises(DecodeError, match=f"a decimal of {MAX_DECIMAL_BYTES + 1} bytes"):
            codec.decode_record(too_long)
    assert made == [version.version]


def test_the_versions_by_fingerprint_are_made_once_and_read_only() -> None:
    """Fails on the code before: a new dict at each call (and each one could be changed)."""
    for family in (schemas.PRODUCT_CHANGE, schemas.DEAD_LETTER):
        found = schemas.by_fingerprint(family)
        assert found is schemas.by_fingerprint(family)
        versions = schemas.all_versions(family)
        assert list(found.items()) == [(v.fingerprint, v) for v in versions]
        assert all(found[v.fingerprint] is v for v in versions)  # the very same versions
        with pytest.raises(TypeError):
            found[0] = versions[0]  # type: ignore[index]


def test_a_schema_file_added_while_running_is_seen_by_neither_until_read_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The versions are read once per process (a file added later is not seen), and the
    versions by fingerprint are made of that same read: they never disagree."""
    shutil.copy(V1.path, tmp_path / V1.path.name)
    monkeypatch.setattr(schemas, "schema_dir", lambda: tmp_path)
    monkeypatch.setattr(schemas, "_load", cache(schemas._load.__wrapped__))
    assert [v.version for v in schemas.all_versions()] == [1]
    (tmp_path / "product_change.v2.avsc").write_text(json.dumps(V2.definition))
    assert [v.version for v in schemas.all_versions()] == [1]
    assert [v.version for v in schemas.by_fingerprint().values()] == [1]
    schemas._load.cache_clear()  # read again
    versions = schemas.all_versions()
    assert [v.fingerprint for v in versions] == [V1.fingerprint, V2.fingerprint]
    assert dict(schemas.by_fingerprint()) == {v.fingerprint: v for v in versions}
