"""The settings table rejects unknown keys and wrong types, naming the key."""

from __future__ import annotations

import pytest

from cloudcollect.config import config_keys, settings_from_config
from cloudcollect.errors import ConfigError


def test_defaults_and_prefix_normalisation() -> None:
    settings = settings_from_config({"CLOUDCOLLECT_PREFIX": "/static", "SECRET_KEY": "x"})
    assert settings.prefix == "static/"
    assert settings.storage == "s3"
    assert settings.workers == 16
    assert settings_from_config({}).prefix == ""  # unset: the bucket root
    with pytest.raises(ConfigError, match="CLOUDCOLLECT_PREFIX '/' is empty"):
        settings_from_config({"CLOUDCOLLECT_PREFIX": "/"})


def test_unknown_key_is_named_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="CLOUDCOLLECT_BUKCET.*CLOUDCOLLECT_BUCKET") as info:
        settings_from_config({"CLOUDCOLLECT_BUKCET": "b"})
    assert info.value.key == "CLOUDCOLLECT_BUKCET"
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("CLOUDCOLLECT_WORKERS", "8"),
        ("CLOUDCOLLECT_WORKERS", True),
        ("CLOUDCOLLECT_DELETE", "yes"),
        ("CLOUDCOLLECT_EXCLUDE", "*.map"),
        ("CLOUDCOLLECT_HEADERS", {"*.css": {"Cache-Control": "x"}}),
        ("CLOUDCOLLECT_HEADERS", [("*.css", {"Cache-Control": 60})]),
        ("CLOUDCOLLECT_MIME_TYPES", {"js": "text/javascript"}),
        ("CLOUDCOLLECT_STORAGE", "ftp"),
        ("CLOUDCOLLECT_WORKERS", 0),
        ("CLOUDCOLLECT_MULTIPART_CHUNKSIZE", 1024),
        ("CLOUDCOLLECT_PREFIX", "a/../b"),
        ("CLOUDCOLLECT_ADDRESSING_STYLE", "diagonal"),
        ("CLOUDCOLLECT_LIST_VERSION", 3),
        ("CLOUDCOLLECT_MAX_DELETE", -1),
        ("CLOUDCOLLECT_CHECKSUM_POLICY", "always"),
        ("CLOUDCOLLECT_BUCKET", 3),
    ],
)
def test_wrong_types_and_values_name_the_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key) as info:
        settings_from_config({key: value})
    assert info.value.key == key


def test_replace_validates_overrides() -> None:
    settings = settings_from_config({})
    assert settings.replace(prefix="cdn", workers=3).prefix == "cdn/"
    with pytest.raises(ConfigError, match="CLOUDCOLLECT_WORKERS"):
        settings.replace(workers=-1)


def test_every_key_is_documented() -> None:
    for key, field in config_keys().items():
        assert key.startswith("CLOUDCOLLECT_")
        assert field.metadata["doc"], key
        assert field.metadata["kind"] in {"str", "str?", "bool", "int", "globs", "rules", "map"}
        if field.metadata["choices"] is not None and field.default is not None:
            assert field.default in field.metadata["choices"], key
        if field.metadata["minimum"] is not None:
            assert field.default >= field.metadata["minimum"], key
