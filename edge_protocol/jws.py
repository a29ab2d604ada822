"""Detached JWS signatures of ``kube-public/cluster-info``, as ``k8s.io/cluster-bootstrap`` computes them.

The bootstrap signer stores, for every token usable for signing, ``jws-kubeconfig-<token-id>`` = a compact
JWS over the ``kubeconfig`` value with the payload left out (RFC 7515 appendix F):
``<b64url(header)>..<b64url(signature)>``. The algorithm is HS256 keyed with the token secret and the
protected header is exactly ``{"alg":"HS256","kid":"<token-id>"}``. kubeadm verifies by recomputing the whole
string and comparing, so the header bytes here must match go-jose's output byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import List, Mapping

from edge_protocol.token import is_token_id, validate_token_id

CLUSTER_INFO_NAMESPACE = "kube-public"
CLUSTER_INFO_NAME = "cluster-info"
#: The key of ``cluster-info`` holding the signed kubeconfig.
KUBECONFIG_KEY = "kubeconfig"
#: Prefix of the keys of ``cluster-info`` holding signatures.
SIGNATURE_KEY_PREFIX = "jws-kubeconfig-"


def b64url(data: bytes) -> str:
    """Encode bytes as unpadded base64url (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def protected_header(token_id: str) -> bytes:
    """Return the JWS protected header for a token, exactly as go-jose serialises it.

    go-jose marshals the header as a Go map, so keys are sorted and there is no whitespace; token IDs
    are ``[a-z0-9]{6}``, so no JSON escaping is ever needed.

    Raises:
        TokenError: The token ID is malformed.
    """
    return b'{"alg":"HS256","kid":"' + validate_token_id(token_id).encode("ascii") + b'"}'


def sign_detached(content: str, token_id: str, token_secret: str) -> str:
    """Compute the detached JWS of ``content`` for one token, as ``ComputeDetachedSignature`` does.

    Args:
        content: The ``kubeconfig`` value of ``cluster-info``, signed as its UTF-8 bytes.
        token_id: The token ID (the ``kid``).
        token_secret: The token secret (the HMAC key).

    Returns:
        ``<b64url(header)>..<b64url(HMAC-SHA256(secret, b64url(header) + "." + b64url(content)))>``.

    Raises:
        TokenError: The token ID is malformed.
    """
    header = b64url(protected_header(token_id))
    signing_input = f"{header}.{b64url(content.encode('utf-8'))}".encode("ascii")
    signature = hmac.new(token_secret.encode("utf-8"), signing_input, hashlib.sha256).digest()
    return f"{header}..{b64url(signature)}"


def verify_detached(content: str, signature: str, token_id: str, token_secret: str) -> bool:
    """Check a detached JWS the way kubeadm does: recompute it and compare the whole string.

    The comparison takes constant time, so timing does not reveal how much of a forged signature matched.

    Args:
        content: The ``kubeconfig`` value of ``cluster-info``.
        signature: The value of ``jws-kubeconfig-<token-id>``.
        token_id: The token ID.
        token_secret: The token secret.

    Returns:
        True only if ``signature`` is exactly what :func:`sign_detached` computes.

    Raises:
        TokenError: The token ID is malformed.
    """
    expected = sign_detached(content, token_id, token_secret)
    return hmac.compare_digest(expected.encode("utf-8"), signature.encode("utf-8"))


def signature_key(token_id: str) -> str:
    """Return the ``cluster-info`` key holding the signature for a token: ``jws-kubeconfig-<id>``.

    Raises:
        TokenError: The token ID is malformed.
    """
    return SIGNATURE_KEY_PREFIX + validate_token_id(token_id)


def signed_token_ids(data: Mapping[str, str]) -> List[str]:
    """Return the token IDs that have a signature in ``cluster-info``'s data, sorted.

    Keys whose suffix is not a valid token ID are ignored.
    """
    prefix = len(SIGNATURE_KEY_PREFIX)
    return sorted(key[prefix:] for key in data if key.startswith(SIGNATURE_KEY_PREFIX) and is_token_id(key[prefix:]))
