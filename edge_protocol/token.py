"""Bootstrap tokens in kubeadm's format, and the ``kube-system`` Secret that stores them.

A token is ``<id>.<secret>``: a public 6-character ID and a 16-character secret, both from ``[a-z0-9]``
(``k8s.io/cluster-bootstrap/token/api``). The Secret ``kube-system/bootstrap-token-<id>`` of type
``bootstrap.kubernetes.io/token`` holds it with its expiration, usages and extra groups; the string data built
here is byte-for-byte what kubeadm writes, so kubeadm and kubectl-edge can read each other's tokens.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from edge_protocol.errors import TokenError

#: Characters of token IDs and secrets (kubeadm's ``validBootstrapTokenChars``).
TOKEN_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"
TOKEN_ID_LENGTH = 6
TOKEN_SECRET_LENGTH = 16
#: An example of the format, for messages; it is kubeadm's documentation example, not a usable token.
TOKEN_EXAMPLE = "abcdef.0123456789abcdef"

SECRET_NAMESPACE = "kube-system"
SECRET_NAME_PREFIX = "bootstrap-token-"
SECRET_TYPE = "bootstrap.kubernetes.io/token"

# Data keys of the Secret.
KEY_TOKEN_ID = "token-id"
KEY_TOKEN_SECRET = "token-secret"
KEY_EXPIRATION = "expiration"
KEY_DESCRIPTION = "description"
KEY_EXTRA_GROUPS = "auth-extra-groups"
KEY_USAGE_PREFIX = "usage-bootstrap-"

USAGE_SIGNING = "signing"
USAGE_AUTHENTICATION = "authentication"
KNOWN_USAGES = (USAGE_SIGNING, USAGE_AUTHENTICATION)
DEFAULT_USAGES = (USAGE_SIGNING, USAGE_AUTHENTICATION)

#: Every bootstrap token authenticates as ``system:bootstrap:<id>`` in group ``system:bootstrappers``.
USER_PREFIX = "system:bootstrap:"
BOOTSTRAP_GROUP = "system:bootstrappers"
#: Extra groups must start with this prefix.
GROUP_PREFIX = "system:bootstrappers:"
#: kubeadm's default extra group; its RBAC (CSR creation, auto-approval) is bound to this name.
DEFAULT_GROUP = "system:bootstrappers:kubeadm:default-node-token"
DEFAULT_GROUPS = (DEFAULT_GROUP,)

#: ``expiration`` format: RFC 3339 in UTC without fractional seconds, as Go's ``time.RFC3339`` prints UTC.
EXPIRATION_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# kubeadm's BootstrapTokenIDPattern; fullmatch stands for its \A...\z anchors.
_ID_RE = re.compile(r"[a-z0-9]{6}")
_CHARS_RE = re.compile(r"[a-z0-9]*")
# kubeadm's BootstrapGroupPattern.
_GROUP_RE = re.compile(r"system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]")
# Go's time.RFC3339 parser: fractional seconds and a numeric offset are accepted on input.
_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})", re.ASCII
)

_TOKEN_HINT = f"a token looks like {TOKEN_EXAMPLE}: 6 and 16 characters from a-z and 0-9, joined by a dot"


@dataclass(frozen=True)
class BootstrapToken:
    """A validated bootstrap token; its ``repr`` never shows the secret.

    Attributes:
        id: The public token ID (6 characters).
        secret: The token secret (16 characters).
    """

    id: str
    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        """Reject an ID or secret that is not in kubeadm's format."""
        validate_token_id(self.id)
        problem = _part_problem(self.secret, TOKEN_SECRET_LENGTH, "secret (after the '.')")
        if problem:
            raise TokenError(f"invalid bootstrap token: {problem}", _TOKEN_HINT)

    @property
    def value(self) -> str:
        """The full token ``<id>.<secret>``, as a bearer token and on the join command line."""
        return f"{self.id}.{self.secret}"


@dataclass(frozen=True)
class TokenRecord:
    """What a bootstrap-token Secret says; the secret is present only when asked for.

    Attributes:
        id: The public token ID.
        expiration: When the token expires (timezone-aware, UTC), or None if it never does.
        usages: Usages set to ``"true"`` (``signing``, ``authentication``, ...), sorted.
        groups: Extra groups the token authenticates as, in the Secret's order.
        description: Free text; empty when the Secret has none.
        secret: The token secret, or None unless the parser was asked for it.
    """

    id: str
    expiration: Optional[datetime]
    usages: List[str]
    groups: List[str]
    description: str
    secret: Optional[str] = field(default=None, repr=False, compare=False)

    @property
    def token(self) -> Optional[BootstrapToken]:
        """The full token, or None when the record was parsed without its secret."""
        if self.secret is None:
            return None
        return BootstrapToken(self.id, self.secret)

    def ttl_seconds(self, now: datetime) -> Optional[float]:
        """Seconds left until expiry (negative once expired), or None for a token that never expires.

        Args:
            now: The current time, timezone-aware.
        """
        if self.expiration is None:
            return None
        return (self.expiration - _require_aware(now)).total_seconds()

    def expired(self, now: datetime) -> bool:
        """Whether the token has expired at ``now`` (the token cleaner deletes it from then on).

        Args:
            now: The current time, timezone-aware.
        """
        left = self.ttl_seconds(now)
        return left is not None and left <= 0


def generate_token() -> BootstrapToken:
    """Return a new random token drawn from the operating system's CSPRNG, as kubeadm does."""
    text = "".join(secrets.choice(TOKEN_CHARS) for _ in range(TOKEN_ID_LENGTH + TOKEN_SECRET_LENGTH))
    return BootstrapToken(text[:TOKEN_ID_LENGTH], text[TOKEN_ID_LENGTH:])


def _part_problem(part: str, length: int, what: str) -> Optional[str]:
    # Describes the problem without echoing the text: it may be (part of) a secret.
    if len(part) != length:
        return f"its {what} has {len(part)} characters, not {length}"
    if not _CHARS_RE.fullmatch(part):
        return f"its {what} contains characters other than a-z and 0-9"
    return None


def parse_token(text: str) -> BootstrapToken:
    """Parse a full token ``<id>.<secret>``.

    Args:
        text: The token, exactly (no surrounding whitespace).

    Returns:
        The token split into ID and secret.

    Raises:
        TokenError: The text is not a token; the message says why without repeating the secret.
    """
    if "." not in text:
        raise TokenError("invalid bootstrap token: it has no '.' between ID and secret", _TOKEN_HINT)
    if text.count(".") > 1:
        raise TokenError("invalid bootstrap token: it has more than one '.'", _TOKEN_HINT)
    token_id, _, token_secret = text.partition(".")
    problem = _part_problem(token_id, TOKEN_ID_LENGTH, "ID (before the '.')")
    if problem:
        raise TokenError(f"invalid bootstrap token: {problem}", _TOKEN_HINT)
    return BootstrapToken(token_id, token_secret)


def is_token_id(text: str) -> bool:
    """Return whether ``text`` is a token ID (``[a-z0-9]{6}``)."""
    return bool(_ID_RE.fullmatch(text))


def validate_token_id(token_id: str) -> str:
    """Check a token ID (``[a-z0-9]{6}``) and return it.

    Raises:
        TokenError: The ID is malformed.
    """
    if not _ID_RE.fullmatch(token_id):
        raise TokenError(
            f"invalid bootstrap token ID {token_id!r}: it must be 6 characters from a-z and 0-9",
            "the ID is the part of the token before the '.', e.g. abcdef",
        )
    return token_id


def token_id_of(text: str) -> str:
    """Return the token ID of either a token ID or a full token (as ``kubeadm token delete`` accepts).

    Raises:
        TokenError: The text is neither; the message repeats it only when it is short enough to be just an
            ID (a whole token that lost its dot carries the secret).
    """
    if "." in text:
        return parse_token(text).id
    if len(text) != TOKEN_ID_LENGTH:
        raise TokenError(
            f"invalid bootstrap token ID: it has {len(text)} characters, not {TOKEN_ID_LENGTH} (and no '.', so it "
            "is not a whole token either)",
            "pass the token ID (6 characters from a-z and 0-9) or the whole token ID.SECRET")
    return validate_token_id(text)


def secret_name(token_id: str) -> str:
    """Return the name of the Secret holding the token with this ID: ``bootstrap-token-<id>``.

    Raises:
        TokenError: The ID is malformed.
    """
    return SECRET_NAME_PREFIX + validate_token_id(token_id)


def user_name(token_id: str) -> str:
    """Return the user a token authenticates as: ``system:bootstrap:<id>``.

    Raises:
        TokenError: The ID is malformed.
    """
    return USER_PREFIX + validate_token_id(token_id)


def validate_group(group: str) -> str:
    """Check one extra group against kubeadm's pattern and return it.

    Raises:
        TokenError: The group does not start with ``system:bootstrappers:`` or has other characters.
    """
    if not _GROUP_RE.fullmatch(group):
        raise TokenError(
            f"invalid extra group {group!r}: it must start with {GROUP_PREFIX!r}, continue with a-z, 0-9, ':' "
            f"or '-', end with a letter or digit, and be at most {len(GROUP_PREFIX) + 256} characters",
            f"for example {DEFAULT_GROUP}",
        )
    return group


def _checked_unique(items: Iterable[str], check: Callable[[str], object]) -> List[str]:
    """``items`` in order without duplicates, each passed to ``check`` (which raises for a bad one)."""
    checked: List[str] = []
    for item in items:
        check(item)
        if item not in checked:
            checked.append(item)
    return checked


def validate_groups(groups: Iterable[str]) -> List[str]:
    """Check extra groups and return them in order, without duplicates.

    Raises:
        TokenError: A group is malformed.
    """
    return _checked_unique(groups, validate_group)


def _validate_usage(usage: str) -> None:
    if usage not in KNOWN_USAGES:
        raise TokenError(
            f"invalid token usage {usage!r}: valid usages are {', '.join(KNOWN_USAGES)}",
            "join needs both: signing for discovery, authentication for the kubelet's TLS bootstrap",
        )


def validate_usages(usages: Iterable[str]) -> List[str]:
    """Check token usages (``signing``, ``authentication``) and return them in order, without duplicates.

    Raises:
        TokenError: A usage is unknown.
    """
    return _checked_unique(usages, _validate_usage)


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        # A naive datetime would silently be taken as local time by astimezone().
        raise ValueError("a timezone-aware datetime is required, e.g. datetime.now(timezone.utc)")
    return moment


def format_expiration(moment: datetime) -> str:
    """Format a moment as the Secret's ``expiration`` value: RFC 3339, UTC, whole seconds (truncated).

    Args:
        moment: A timezone-aware datetime.

    Raises:
        ValueError: ``moment`` is naive.
    """
    return _require_aware(moment).astimezone(timezone.utc).strftime(EXPIRATION_FORMAT)


def parse_expiration(text: str) -> datetime:
    """Parse an RFC 3339 timestamp as Go's ``time.RFC3339`` layout accepts it; return it in UTC.

    Raises:
        TokenError: The text is not such a timestamp.
    """
    match = _RFC3339_RE.fullmatch(text)
    if not match:
        raise TokenError(
            f"invalid token expiration {text!r}: expected an RFC 3339 time such as 2030-01-31T12:00:00Z"
        )
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, offset = match.group(7), match.group(8)
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    if offset == "Z":
        zone = timezone.utc
    else:
        sign = -1 if offset[0] == "-" else 1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise TokenError(f"invalid token expiration {text!r}: the UTC offset is out of range")
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    except ValueError as err:
        raise TokenError(f"invalid token expiration {text!r}: {err}") from None
    return moment.astimezone(timezone.utc)


def parse_api_time(value: object) -> Optional[datetime]:
    """An RFC 3339 time as the API (or Helm, with nanoseconds) writes it, in UTC; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_expiration(value)
    except TokenError:
        return None


def build_secret_data(
    token: Union[str, BootstrapToken],
    ttl_seconds: float,
    now: datetime,
    description: str = "",
    usages: Sequence[str] = DEFAULT_USAGES,
    groups: Sequence[str] = DEFAULT_GROUPS,
) -> Dict[str, str]:
    """Build the string data of a bootstrap-token Secret exactly as kubeadm writes it.

    Keys kubeadm omits are omitted: ``description`` when empty, ``expiration`` when the TTL is 0 (never
    expires), ``auth-extra-groups`` when there are no groups.

    Args:
        token: The token, parsed or as text.
        ttl_seconds: Lifetime from ``now``; 0 means the token never expires.
        now: The current time, timezone-aware.
        description: Free text shown by ``token list``.
        usages: Subset of ``signing`` and ``authentication``.
        groups: Extra groups, each matching ``system:bootstrappers:...``.

    Returns:
        The Secret's ``stringData``: every value a plain string.

    Raises:
        TokenError: The token, a usage or a group is malformed, or the TTL is negative.
        ValueError: ``now`` is naive.
    """
    parsed = parse_token(token) if isinstance(token, str) else token
    if ttl_seconds < 0:
        raise TokenError(f"invalid token TTL: {ttl_seconds} seconds is negative", "0 means the token never expires")
    checked_usages = validate_usages(usages)
    checked_groups = validate_groups(groups)
    data = {KEY_TOKEN_ID: parsed.id, KEY_TOKEN_SECRET: parsed.secret}
    if description:
        data[KEY_DESCRIPTION] = description
    if ttl_seconds > 0:
        data[KEY_EXPIRATION] = format_expiration(_require_aware(now) + timedelta(seconds=ttl_seconds))
    for usage in checked_usages:
        data[KEY_USAGE_PREFIX + usage] = "true"
    if checked_groups:
        data[KEY_EXTRA_GROUPS] = ",".join(checked_groups)
    return data


def decode_secret_data(data: Mapping[str, str]) -> Dict[str, str]:
    """Decode a Secret's base64 ``data`` (as the API returns it) into strings.

    Raises:
        TokenError: A value is not base64 or not UTF-8; the message names the key, never the value.
    """
    decoded: Dict[str, str] = {}
    for key, value in data.items():
        try:
            decoded[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise TokenError(f"the Secret's data key {key!r} is not base64-encoded UTF-8 text") from None
    return decoded


def parse_secret_data(data: Mapping[str, str], name: Optional[str] = None, with_secret: bool = False) -> TokenRecord:
    """Read a bootstrap-token Secret's string data back into a record, as the token authenticator would.

    Args:
        data: The Secret's data as strings (see :func:`decode_secret_data` for the API's base64 form).
        name: The Secret's name; when given it must be ``bootstrap-token-<token-id>``.
        with_secret: Keep the token secret in the record; by default it is dropped.

    Returns:
        The record; usages sorted, groups as stored.

    Raises:
        TokenError: The ID or secret is missing or malformed, the name does not match the ID, or the
            expiration is not an RFC 3339 time.
    """
    token_id = data.get(KEY_TOKEN_ID)
    if token_id is None:
        raise TokenError(f"the bootstrap-token Secret{_named(name)} has no {KEY_TOKEN_ID!r} key")
    validate_token_id(token_id)
    if name is not None and name != SECRET_NAME_PREFIX + token_id:
        raise TokenError(
            f"the bootstrap-token Secret {name!r} holds token ID {token_id!r}; its name must be "
            f"{SECRET_NAME_PREFIX + token_id!r}"
        )
    token_secret = data.get(KEY_TOKEN_SECRET)
    if token_secret is None:
        raise TokenError(f"the bootstrap-token Secret{_named(name)} has no {KEY_TOKEN_SECRET!r} key")
    problem = _part_problem(token_secret, TOKEN_SECRET_LENGTH, KEY_TOKEN_SECRET)
    if problem:
        raise TokenError(f"the bootstrap-token Secret{_named(name)} is invalid: {problem}")
    raw_expiration = data.get(KEY_EXPIRATION)
    expiration = parse_expiration(raw_expiration) if raw_expiration else None
    prefix = len(KEY_USAGE_PREFIX)
    usages = sorted(key[prefix:] for key, value in data.items() if key.startswith(KEY_USAGE_PREFIX) and value == "true")
    raw_groups = data.get(KEY_EXTRA_GROUPS, "")
    groups = raw_groups.split(",") if raw_groups else []
    return TokenRecord(
        id=token_id,
        expiration=expiration,
        usages=usages,
        groups=groups,
        description=data.get(KEY_DESCRIPTION, ""),
        secret=token_secret if with_secret else None,
    )


def _named(name: Optional[str]) -> str:
    return f" {name!r}" if name else ""
