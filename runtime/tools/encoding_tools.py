"""Encoding tools: `hash-calculator`, `base64-encoder` and `uuid-generator` (v4, v5, v7)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
import uuid
from typing import Any

from llmspell.runtime.tools.registry import Tool, ToolFailure, ToolOutput

ALGORITHMS = ("md5", "sha1", "sha256", "sha512")

HASH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["hash", "verify"]},
        "algorithm": {"enum": list(ALGORITHMS)},
        "input": {"type": "string"},
        "expected": {"type": "string"},
    },
    "required": ["input"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"operation": {"const": "verify"}}, "required": ["operation"]},
            "then": {"required": ["expected"]},
        }
    ],
}


def _hash(params: dict[str, Any]) -> ToolOutput:
    data = params["input"]
    raw = data if isinstance(data, bytes) else data.encode("utf-8")
    algorithm = params.get("algorithm", "sha256")
    digest = hashlib.new(algorithm, raw).hexdigest()
    if params.get("operation", "hash") == "verify":
        valid = hmac.compare_digest(digest, params["expected"].strip().lower())
        return ToolOutput(valid, fields={"valid": valid, "algorithm": algorithm})
    return ToolOutput(digest, fields={"hash": digest, "algorithm": algorithm})


HASH_CALCULATOR = Tool(
    name="hash-calculator",
    description="Hashes text (md5, sha1, sha256, sha512) or verifies a hex digest",
    category="encoding",
    schema=HASH_SCHEMA,
    run=_hash,
    tags=("hash", "offline"),
    aliases={"data": "input", "expected_hash": "expected"},
)

BASE64_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["encode", "decode"]},
        "input": {"type": "string"},
        "url_safe": {"type": "boolean"},
    },
    "required": ["operation", "input"],
    "additionalProperties": False,
}


def _base64(params: dict[str, Any]) -> Any:
    data = params["input"]
    raw = data if isinstance(data, bytes) else data.encode("utf-8")
    url_safe = bool(params.get("url_safe", False))
    if params["operation"] == "encode":
        encoded = base64.urlsafe_b64encode(raw) if url_safe else base64.b64encode(raw)
        return encoded.decode("ascii")
    try:
        padded = raw.strip() + b"=" * (-len(raw.strip()) % 4)
        decoded = (
            base64.urlsafe_b64decode(padded)
            if url_safe
            else base64.b64decode(padded, validate=True)
        )
    except (binascii.Error, ValueError) as exc:
        raise ToolFailure(f"input is not valid base64: {exc}") from None
    try:
        return decoded.decode("utf-8")
    except UnicodeDecodeError:
        return decoded  # binary content: a byte string in Lua


BASE64_ENCODER = Tool(
    name="base64-encoder",
    description="Encodes text to base64 or decodes base64 (standard or URL-safe alphabet)",
    category="encoding",
    schema=BASE64_SCHEMA,
    run=_base64,
    tags=("base64", "offline"),
)

NAMESPACES = {
    "dns": uuid.NAMESPACE_DNS,
    "url": uuid.NAMESPACE_URL,
    "oid": uuid.NAMESPACE_OID,
    "x500": uuid.NAMESPACE_X500,
}
UUID_FORMATS = ("hyphenated", "standard", "simple", "urn", "braced")
UUID_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        # v4/v7: the reference's operations for generate with that version.
        "operation": {"enum": ["generate", "v4", "v7", "validate"]},
        "version": {"enum": ["v4", "v5", "v7"]},
        "namespace": {"type": "string"},
        "name": {"type": "string"},
        "format": {"enum": list(UUID_FORMATS)},
        "prefix": {"type": "string", "maxLength": 64},
        "input": {"type": "string", "maxLength": 256},
    },
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"version": {"const": "v5"}}, "required": ["version"]},
            "then": {"required": ["name"]},
        },
        {
            "if": {"properties": {"operation": {"const": "validate"}}, "required": ["operation"]},
            "then": {"required": ["input"]},
        },
    ],
}


def _uuid(params: dict[str, Any]) -> ToolOutput:
    operation = params.get("operation", "generate")
    if operation == "validate":
        return _validate_uuid(params["input"])
    version = params.get("version", operation if operation in ("v4", "v7") else "v4")
    if operation in ("v4", "v7") and version != operation:
        raise ToolFailure(
            f"operation {operation!r} generates a {operation} UUID; version says {version!r}"
        )
    if version == "v4":
        value = uuid.uuid4()
    elif version == "v7":
        value = _uuid7()
    else:
        value = _uuid5(params)
    text = _formatted(value, params.get("format", "hyphenated"))
    if "prefix" in params:
        text = f"{params['prefix']}-{text}"
    return ToolOutput(text, fields={"uuid": text, "version": version})


def _uuid5(params: dict[str, Any]) -> uuid.UUID:
    namespace = params.get("namespace", "dns")
    space = NAMESPACES.get(namespace.lower())
    if space is None:
        try:
            space = uuid.UUID(namespace)
        except ValueError:
            raise ToolFailure(
                f"namespace must be one of {', '.join(NAMESPACES)} or a UUID, got {namespace!r}"
            ) from None
    return uuid.uuid5(space, params["name"])


def _uuid7() -> uuid.UUID:
    # RFC 9562: 48 bits of Unix milliseconds, the version, 74 random bits and the variant.
    millis = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10), "big")
    value = (millis & (2**48 - 1)) << 80 | 0x7 << 76 | (random >> 62 & 0xFFF) << 64
    value |= 0b10 << 62 | random & (2**62 - 1)
    return uuid.UUID(int=value)


def _formatted(value: uuid.UUID, fmt: str) -> str:
    if fmt == "simple":
        return value.hex
    if fmt == "urn":
        return value.urn
    if fmt == "braced":
        return "{" + str(value) + "}"
    return str(value)


def _validate_uuid(text: str) -> ToolOutput:
    try:
        value = uuid.UUID(text.strip())
    except ValueError:
        return ToolOutput(False, fields={"valid": False, "input": text})
    version = f"v{value.version}" if value.version else None
    return ToolOutput(True, fields={"valid": True, "uuid": str(value), "version": version})


UUID_GENERATOR = Tool(
    name="uuid-generator",
    description="Generates a random (v4), name-based (v5) or time-ordered (v7) UUID, or "
    "checks one (validate)",
    category="encoding",
    schema=UUID_SCHEMA,
    run=_uuid,
    tags=("uuid", "offline"),
)
