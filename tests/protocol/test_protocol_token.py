"""Bootstrap tokens and their Secret: format, generation, kubeadm's data layout, and reading it back."""

from __future__ import annotations

import base64
import re
import secrets
from datetime import datetime, timedelta, timezone

import pytest

from edge_protocol import token as tokens
from edge_protocol.errors import ProtocolError, TokenError
from edge_protocol.token import BootstrapToken

NOW = datetime(2030, 1, 31, 12, 0, 0, 750000, tzinfo=timezone.utc)
TOKEN = "abcdef.0123456789abcdef"
SECRET = "0123456789abcdef"


def test_generated_tokens_have_kubeadm_format_and_differ() -> None:
    generated = [tokens.generate_token() for _ in range(200)]
    for item in generated:
        assert re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", item.value)
        assert tokens.parse_token(item.value) == item
    assert len({item.value for item in generated}) == 200
    # 4400 draws from 36 characters: every character shows up unless the alphabet is wrong.
    assert set("".join(item.id + item.secret for item in generated)) == set(tokens.TOKEN_CHARS)


def test_generated_tokens_come_from_the_secrets_module(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter("abcdefghijklmnopqrstuv")
    monkeypatch.setattr(secrets, "choice", lambda alphabet: next(drawn))
    assert tokens.generate_token().value == "abcdef.ghijklmnopqrstuv"


def test_parse_token_splits_id_and_secret() -> None:
    parsed = tokens.parse_token(TOKEN)
    assert (parsed.id, parsed.secret, parsed.value) == ("abcdef", SECRET, TOKEN)


def test_token_repr_and_str_hide_the_secret() -> None:
    parsed = tokens.parse_token(TOKEN)
    assert SECRET not in repr(parsed)
    assert SECRET not in str(parsed)
    assert "abcdef" in repr(parsed)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("abcdef0123456789abcdef", "no '.'"),
        ("abc.def.0123456789abcd", "more than one '.'"),
        ("abcde.0123456789abcdef", "ID (before the '.') has 5 characters"),
        ("abcdefg.0123456789abcdef", "ID (before the '.') has 7 characters"),
        ("ABCDEF.0123456789abcdef", "ID (before the '.') contains characters other than a-z and 0-9"),
        ("abcdef.0123456789abcde", "secret (after the '.') has 15 characters"),
        ("abcdef.0123456789ABCDEF", "secret (after the '.') contains characters"),
        ("abcdef.0123456789abcd\u00e9f", "secret (after the '.') contains characters"),
        (TOKEN + "\n", "secret (after the '.') has 17 characters"),
        (" " + TOKEN, "ID (before the '.') has 7 characters"),
        ("", "no '.'"),
    ],
)
def test_malformed_tokens_are_refused_without_echoing_them(text: str, problem: str) -> None:
    with pytest.raises(TokenError) as info:
        tokens.parse_token(text)
    assert problem in info.value.message
    assert info.value.message.startswith("invalid bootstrap token: ")
    assert info.value.hint and "abcdef.0123456789abcdef" in info.value.hint
    secret_part = text.partition(".")[2]
    if secret_part:
        assert secret_part not in info.value.message


def test_token_errors_are_protocol_errors_and_value_errors() -> None:
    with pytest.raises(ProtocolError):
        tokens.parse_token("nope")
    with pytest.raises(ValueError, match="invalid bootstrap token"):
        tokens.parse_token("nope")


def test_bootstrap_token_validates_its_parts() -> None:
    with pytest.raises(TokenError, match="ID"):
        BootstrapToken("ABCDEF", SECRET)
    with pytest.raises(TokenError, match="secret"):
        BootstrapToken("abcdef", "short")


def test_token_id_of_accepts_an_id_or_a_full_token() -> None:
    assert tokens.token_id_of("abcdef") == "abcdef"
    assert tokens.token_id_of(TOKEN) == "abcdef"
    for bad in ("abcde", "ABCDEF", "abcdef.", "abcdef.short", ""):
        with pytest.raises(TokenError):
            tokens.token_id_of(bad)
    with pytest.raises(TokenError) as info:
        tokens.token_id_of("abc")
    assert "it has 3 characters, not 6" in info.value.message


def test_a_token_that_lost_its_dot_is_not_repeated_in_the_error() -> None:
    secret = "abcdef0123456789abcdef"  # a whole token with its '.' lost in copying: ID and secret
    with pytest.raises(TokenError) as info:
        tokens.token_id_of(secret)
    assert "0123456789" not in info.value.message + str(info.value.hint)
    assert "22 characters" in info.value.message


def test_names_derived_from_the_id() -> None:
    assert tokens.secret_name("abcdef") == "bootstrap-token-abcdef"
    assert tokens.user_name("abcdef") == "system:bootstrap:abcdef"
    assert tokens.is_token_id("a1b2c3") and not tokens.is_token_id("a1b2c")
    with pytest.raises(TokenError):
        tokens.secret_name("abc/../x")


def test_constants_match_kubeadm() -> None:
    assert tokens.SECRET_TYPE == "bootstrap.kubernetes.io/token"
    assert tokens.SECRET_NAMESPACE == "kube-system"
    assert tokens.DEFAULT_GROUP == "system:bootstrappers:kubeadm:default-node-token"
    assert tokens.GROUP_PREFIX == "system:bootstrappers:"
    assert tokens.KNOWN_USAGES == ("signing", "authentication")


@pytest.mark.parametrize(
    "group",
    [
        tokens.DEFAULT_GROUP,
        "system:bootstrappers:edge",
        "system:bootstrappers:a",
        "system:bootstrappers:edge-nodes:site-1",
        "system:bootstrappers:" + "a" * 256,
    ],
)
def test_valid_groups(group: str) -> None:
    assert tokens.validate_group(group) == group


@pytest.mark.parametrize(
    "group",
    [
        "system:bootstrappers",
        "system:bootstrappers:",
        "system:bootstrappers:edge:",
        "system:bootstrappers:edge-",
        "system:bootstrappers:Edge",
        "system:bootstrappers:edge nodes",
        "system:masters",
        "system:bootstrappers:" + "a" * 257,
        "",
    ],
)
def test_invalid_groups(group: str) -> None:
    with pytest.raises(TokenError) as info:
        tokens.validate_group(group)
    assert "invalid extra group" in info.value.message
    assert "system:bootstrappers:" in info.value.message


def test_validate_groups_keeps_order_and_drops_duplicates() -> None:
    groups = ["system:bootstrappers:b", tokens.DEFAULT_GROUP, "system:bootstrappers:b"]
    assert tokens.validate_groups(groups) == ["system:bootstrappers:b", tokens.DEFAULT_GROUP]
    with pytest.raises(TokenError):
        tokens.validate_groups([tokens.DEFAULT_GROUP, "system:nodes"])


def test_usages() -> None:
    assert tokens.validate_usages(["authentication", "signing", "signing"]) == ["authentication", "signing"]
    assert tokens.validate_usages([]) == []
    with pytest.raises(TokenError) as info:
        tokens.validate_usages(["signing", "admin"])
    assert "'admin'" in info.value.message and "signing, authentication" in info.value.message


def test_secret_data_is_exactly_what_kubeadm_writes() -> None:
    data = tokens.build_secret_data(TOKEN, 24 * 3600, NOW, description="edge site 1")
    assert data == {
        "token-id": "abcdef",
        "token-secret": SECRET,
        "description": "edge site 1",
        "expiration": "2030-02-01T12:00:00Z",
        "usage-bootstrap-signing": "true",
        "usage-bootstrap-authentication": "true",
        "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
    }


def test_secret_data_omits_what_kubeadm_omits() -> None:
    data = tokens.build_secret_data(tokens.parse_token(TOKEN), 0, NOW, usages=["authentication"], groups=[])
    assert data == {"token-id": "abcdef", "token-secret": SECRET, "usage-bootstrap-authentication": "true"}


def test_secret_data_joins_groups_and_converts_time_to_utc() -> None:
    eastern = timezone(timedelta(hours=-5))
    now = datetime(2030, 1, 31, 23, 30, 59, 999999, tzinfo=eastern)
    data = tokens.build_secret_data(TOKEN, 90, now, groups=["system:bootstrappers:a", "system:bootstrappers:b"])
    # 23:30:59.999999-05:00 is 04:30:59.999999Z; 90 s later, truncated like Go's time.RFC3339.
    assert data["expiration"] == "2030-02-01T04:32:29Z"
    assert data["auth-extra-groups"] == "system:bootstrappers:a,system:bootstrappers:b"


def test_secret_data_refuses_bad_input() -> None:
    with pytest.raises(TokenError):
        tokens.build_secret_data("abcdef", 60, NOW)
    with pytest.raises(TokenError, match="negative"):
        tokens.build_secret_data(TOKEN, -1, NOW)
    with pytest.raises(TokenError, match="usage"):
        tokens.build_secret_data(TOKEN, 60, NOW, usages=["sign"])
    with pytest.raises(TokenError, match="group"):
        tokens.build_secret_data(TOKEN, 60, NOW, groups=["system:nodes"])
    with pytest.raises(ValueError, match="timezone-aware"):
        tokens.build_secret_data(TOKEN, 60, datetime(2030, 1, 1))


def test_secret_data_round_trips_without_exposing_the_secret() -> None:
    data = tokens.build_secret_data(TOKEN, 3600, NOW, description="d", groups=["system:bootstrappers:x"])
    record = tokens.parse_secret_data(data, name="bootstrap-token-abcdef")
    assert record.id == "abcdef"
    assert record.expiration == datetime(2030, 1, 31, 13, 0, 0, tzinfo=timezone.utc)
    assert record.usages == ["authentication", "signing"]
    assert record.groups == ["system:bootstrappers:x"]
    assert record.description == "d"
    assert record.secret is None and record.token is None
    assert SECRET not in repr(record)

    revealed = tokens.parse_secret_data(data, with_secret=True)
    assert revealed.secret == SECRET
    assert revealed.token is not None and revealed.token.value == TOKEN
    assert SECRET not in repr(revealed)


def test_record_of_a_token_that_never_expires() -> None:
    record = tokens.parse_secret_data({"token-id": "abcdef", "token-secret": SECRET, "expiration": ""})
    assert record.expiration is None
    assert record.ttl_seconds(NOW) is None
    assert not record.expired(NOW)
    assert record.usages == [] and record.groups == [] and record.description == ""


def test_record_expiry() -> None:
    data = tokens.build_secret_data(TOKEN, 60, NOW)
    record = tokens.parse_secret_data(data)
    assert record.ttl_seconds(NOW) == pytest.approx(59.25)
    assert not record.expired(NOW)
    # Expired from the very second written in the Secret on, as cluster-bootstrap's GetExpiration decides.
    assert record.expiration is not None
    assert not record.expired(record.expiration - timedelta(microseconds=1))
    assert record.expired(record.expiration)
    assert record.expired(NOW + timedelta(seconds=60))
    with pytest.raises(ValueError, match="timezone-aware"):
        record.expired(datetime(2030, 1, 1))


def test_record_usages_only_count_true_values() -> None:
    data = {"token-id": "abcdef", "token-secret": SECRET, "usage-bootstrap-signing": "false",
            "usage-bootstrap-authentication": "true", "usage-bootstrap-extra": "true"}
    assert tokens.parse_secret_data(data).usages == ["authentication", "extra"]


@pytest.mark.parametrize(
    ("data", "name", "problem"),
    [
        ({"token-secret": SECRET}, None, "has no 'token-id'"),
        ({"token-id": "abcdef"}, "bootstrap-token-abcdef", "has no 'token-secret'"),
        ({"token-id": "ABCDEF", "token-secret": SECRET}, None, "invalid bootstrap token ID"),
        ({"token-id": "abcdef", "token-secret": "short"}, None, "token-secret has 5 characters"),
        ({"token-id": "abcdef", "token-secret": SECRET}, "bootstrap-token-zzzzzz", "its name must be"),
        ({"token-id": "abcdef", "token-secret": SECRET, "expiration": "tomorrow"}, None, "invalid token expiration"),
        ({"token-id": "abcdef", "token-secret": SECRET, "expiration": "2030-02-30T00:00:00Z"}, None, "day is out"),
    ],
)
def test_malformed_secret_data(data: dict[str, str], name: str | None, problem: str) -> None:
    with pytest.raises(TokenError) as info:
        tokens.parse_secret_data(data, name=name)
    assert problem in info.value.message
    assert "0123456789abcdef" not in info.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-31T12:00:00Z", datetime(2030, 1, 31, 12, 0, tzinfo=timezone.utc)),
        ("2030-01-31T12:00:00.5Z", datetime(2030, 1, 31, 12, 0, 0, 500000, tzinfo=timezone.utc)),
        ("2030-01-31T12:00:00.1234567891Z", datetime(2030, 1, 31, 12, 0, 0, 123456, tzinfo=timezone.utc)),
        ("2030-01-31T14:30:00+02:30", datetime(2030, 1, 31, 12, 0, tzinfo=timezone.utc)),
        ("2030-01-31T07:00:00-05:00", datetime(2030, 1, 31, 12, 0, tzinfo=timezone.utc)),
    ],
)
def test_parse_expiration(text: str, expected: datetime) -> None:
    parsed = tokens.parse_expiration(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    ["", "2030-01-31", "2030-01-31 12:00:00Z", "2030-01-31T12:00:00", "2030-01-31T12:00Z", "2030-13-01T00:00:00Z",
     "2030-01-31T12:00:00+24:00", "2030-01-31T25:00:00Z", "\u0662030-01-31T12:00:00Z"],
)
def test_parse_expiration_refuses_other_formats(text: str) -> None:
    with pytest.raises(TokenError, match="invalid token expiration"):
        tokens.parse_expiration(text)


def test_format_expiration() -> None:
    assert tokens.format_expiration(NOW) == "2030-01-31T12:00:00Z"
    plus_one = timezone(timedelta(hours=1))
    assert tokens.format_expiration(datetime(2030, 1, 1, 0, 30, tzinfo=plus_one)) == "2029-12-31T23:30:00Z"
    with pytest.raises(ValueError):
        tokens.format_expiration(datetime(2030, 1, 1))


def test_decode_secret_data() -> None:
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in {"token-id": "abcdef",
               "description": "caf\u00e9"}.items()}
    assert tokens.decode_secret_data(encoded) == {"token-id": "abcdef", "description": "caf\u00e9"}
    for bad in ("not base64!", base64.b64encode(b"\xff\xfe").decode()):
        with pytest.raises(TokenError) as info:
            tokens.decode_secret_data({"token-secret": bad})
        assert "'token-secret'" in info.value.message
        assert bad not in info.value.message


def test_parse_api_time_is_none_for_what_is_absent_or_unreadable() -> None:
    assert tokens.parse_api_time("2026-11-27T03:30:00.123456789Z") == datetime(2026, 11, 27, 3, 30, 0, 123456,
                                                                                tzinfo=timezone.utc)
    assert tokens.parse_api_time("2026-11-27T04:30:00+01:00") == datetime(2026, 11, 27, 3, 30, tzinfo=timezone.utc)
    for value in (None, "", "yesterday", 1764214200, "2026-13-01T00:00:00Z"):
        assert tokens.parse_api_time(value) is None
