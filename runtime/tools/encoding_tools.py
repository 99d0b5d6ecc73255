"""Encoding tools: `hash-calculator`, `base64-encoder` and `uuid-generator` (v4, v5)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from typing import Any

from llmspell.runtime.tools.registry import Tool, ToolFailure

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


def _hash(params: dict[str, Any]) -> Any:
    data = params["input"]
    raw = data if isinstance(data, bytes) else data.encode("utf-8")
    digest = hashlib.new(params.get("algorithm", "sha256"), raw).hexdigest()
    if params.get("operation", "hash") == "verify":
        return hmac.compare_digest(digest, params["expected"].strip().lower())
    return digest


HASH_CALCULATOR = Tool(
    name="hash-calculator",
    description="Hashes text (md5, sha1, sha256, sha512) or verifies a hex digest",
    category="encoding",
    schema=HASH_SCHEMA,
    run=_hash,
    tags=("hash", "offline"),
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
UUID_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["generate"]},
        "version": {"enum": ["v4", "v5"]},
        "namespace": {"type": "string"},
        "name": {"type": "string"},
    },
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"version": {"const": "v5"}}, "required": ["version"]},
            "then": {"required": ["name"]},
        }
    ],
}


def _uuid(params: dict[str, Any]) -> str:
    if params.get("version", "v4") == "v4":
        return str(uuid.uuid4())
    namespace = params.get("namespace", "dns")
    space = NAMESPACES.get(namespace.lower())
    if space is None:
        try:
            space = uuid.UUID(namespace)
        except ValueError:
            raise ToolFailure(
                f"namespace must be one of {', '.join(NAMESPACES)} or a UUID, got {namespace!r}"
            ) from None
    return str(uuid.uuid5(space, params["name"]))


UUID_GENERATOR = Tool(
    name="uuid-generator",
    description="Generates a random (v4) or name-based (v5) UUID",
    category="encoding",
    schema=UUID_SCHEMA,
    run=_uuid,
    tags=("uuid", "offline"),
)
