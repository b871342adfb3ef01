"""RFC 8291 message encryption (``aes128gcm``, RFC 8188) with ``cryptography``'s primitives.

Written against the RFC rather than taken from ``http_ece``/``pywebpush`` so that the tests, which
decrypt with ``http_ece``, check this code against an independent implementation; the primitives
(P-256 ECDH, HKDF-SHA256, AES-128-GCM) are ``cryptography``'s (OpenSSL). One record: the payload,
the ``0x02`` delimiter and the GCM tag must fit in ``RECORD_SIZE`` (push services accept 4096-byte
bodies; an alert is far smaller, and ``fit`` trims one that is not).
"""

from __future__ import annotations

import base64
import os
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

RECORD_SIZE = 4096
HEADER_SIZE = 16 + 4 + 1 + 65  # salt, record size, key id length, key id (our public key)
PLAINTEXT_MAX = RECORD_SIZE - HEADER_SIZE - 1 - 16  # one record: delimiter and GCM tag


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def client_key(p256dh: bytes) -> ec.EllipticCurvePublicKey:
    """The subscriber's public key; ``ValueError`` if it is not an uncompressed P-256 point."""
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise ValueError("must be an uncompressed P-256 point (65 bytes, base64url)")
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def encrypt(plaintext: bytes, ua_public: ec.EllipticCurvePublicKey, auth_secret: bytes,
            *, salt: bytes | None = None,
            as_private: ec.EllipticCurvePrivateKey | None = None) -> bytes:
    """The ``aes128gcm`` body of one push message to one subscriber (RFC 8291 §3.4)."""
    if len(plaintext) > PLAINTEXT_MAX:
        raise ValueError(f"a push payload holds at most {PLAINTEXT_MAX} bytes")
    as_private = as_private or ec.generate_private_key(ec.SECP256R1())
    salt = salt or os.urandom(16)
    raw = serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    ua_bytes = ua_public.public_bytes(*raw)
    as_bytes = as_private.public_key().public_bytes(*raw)
    shared = as_private.exchange(ec.ECDH(), ua_public)
    ikm = _hkdf(auth_secret, shared, b"WebPush: info\x00" + ua_bytes + as_bytes, 32)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    ciphertext = AESGCM(cek).encrypt(nonce, plaintext + b"\x02", None)
    return salt + struct.pack("!IB", RECORD_SIZE, len(as_bytes)) + as_bytes + ciphertext
