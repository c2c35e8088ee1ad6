"""The OpenAPI 3.1 document of the server API (``GET /api/v1/openapi.json``); it matches ``perpvol_app.api``."""

from __future__ import annotations

import copy
from typing import Any

DECIMAL = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "description": "exact decimal (USD)"}
EXCHANGE = {"type": "string", "enum": ["woox", "paradex"]}
LABEL = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"}
DATE = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "description": "UTC day YYYY-MM-DD"}
MS = {"type": "integer", "description": "UTC epoch milliseconds"}
NULL_MS = {"type": ["integer", "null"]}

_PERIODS = {
    "type": "object",
    "properties": {p: {"$ref": "#/components/schemas/Decimal"} for p in ("24h", "7d", "30d", "all")},
    "required": ["24h", "7d", "30d", "all"],
}

_SCHEMAS: dict[str, Any] = {
    "Decimal": DECIMAL,
    "Error": {
        "type": "object",
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
        "required": ["error", "message"],
    },
    "Periods": _PERIODS,
    "Summary": {
        "type": "object",
        "properties": {
            "generated_at": {"type": "string"},
            "totals": {"$ref": "#/components/schemas/Periods"},
            "by_exchange": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Periods"}},
        },
        "required": ["generated_at", "totals", "by_exchange"],
    },
    "Current": {
        "type": "object",
        "properties": {
            "generated_at": {"type": "string"},
            "as_of_ms": MS,
            "window": {
                "type": "object",
                "properties": {"start_ms": MS, "end_ms": MS},
                "required": ["start_ms", "end_ms"],
            },
            "volume_usd": {"$ref": "#/components/schemas/Decimal"},
            "by_exchange": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Decimal"}},
            "totals": {"$ref": "#/components/schemas/Periods"},
        },
        "required": ["generated_at", "as_of_ms", "window", "volume_usd", "by_exchange", "totals"],
    },
    "DailyRow": {
        "type": "object",
        "properties": {
            "date": DATE,
            "exchange": EXCHANGE,
            "volume_usd": {"$ref": "#/components/schemas/Decimal"},
            "maker_usd": {"$ref": "#/components/schemas/Decimal"},
            "taker_usd": {"$ref": "#/components/schemas/Decimal"},
            "fees_usd": {"$ref": "#/components/schemas/Decimal"},
            "fills": {"type": "integer", "minimum": 0},
        },
        "required": ["date", "exchange", "volume_usd", "maker_usd", "taker_usd", "fees_usd", "fills"],
    },
    "Daily": {
        "type": "object",
        "properties": {
            "from": {"type": ["string", "null"]},
            "to": {"type": ["string", "null"]},
            "exchange": {"type": ["string", "null"]},
            "market": {"type": ["string", "null"]},
            "daily": {"type": "array", "items": {"$ref": "#/components/schemas/DailyRow"}},
        },
        "required": ["daily"],
    },
    "Account": {
        "type": "object",
        "properties": {
            "label": {"type": "string"},
            "exchange": EXCHANGE,
            "base_url": {"type": ["string", "null"]},
            "hint": {"type": "string", "description": "masked hint; never a secret"},
            "status": {"type": "string", "enum": ["new", "ok", "syncing", "error"]},
            "last_error": {"type": ["string", "null"]},
            "created_ms": MS,
        },
        "required": ["label", "exchange", "hint", "status", "created_ms"],
    },
    "AccountList": {
        "type": "object",
        "properties": {"accounts": {"type": "array", "items": {"$ref": "#/components/schemas/Account"}}},
        "required": ["accounts"],
    },
    "AccountCreate": {
        "type": "object",
        "description": (
            "WOO X: api_key + api_secret. Paradex: token (read-only token) or account + l2_key. "
            "Credentials are tested against the exchange before saving and never echoed."
        ),
        "properties": {
            "label": LABEL,
            "exchange": EXCHANGE,
            "base_url": {"type": "string", "pattern": r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/\-]*)?$"},
            "api_key": {"type": "string", "writeOnly": True},
            "api_secret": {"type": "string", "writeOnly": True},
            "token": {"type": "string", "writeOnly": True},
            "account": {"type": "string", "pattern": "^0x[0-9a-fA-F]{1,64}$"},
            "l2_key": {"type": "string", "writeOnly": True},
        },
        "required": ["label", "exchange"],
    },
    "AccountTest": {
        "type": "object",
        "properties": {
            "label": {"type": "string"},
            "exchange": EXCHANGE,
            "ok": {"type": "boolean"},
            "hint": {"type": "string"},
            "identity": {"type": "string"},
        },
        "required": ["label", "exchange", "ok"],
    },
    "SyncRequest": {"type": "object", "properties": {"label": LABEL}},
    "SyncStarted": {
        "type": "object",
        "properties": {"status": {"type": "string", "enum": ["started"]}, "label": {"type": ["string", "null"]}},
        "required": ["status"],
    },
    "SyncStatus": {
        "type": "object",
        "properties": {
            "generated_at": {"type": "string"},
            "accounts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "label": {"type": "string"},
                        "exchange": EXCHANGE,
                        "status": {"type": "string"},
                        "last_error": {"type": ["string", "null"]},
                        "sync": {
                            "type": "object",
                            "properties": {
                                "covered_from_ms": NULL_MS,
                                "covered_to_ms": NULL_MS,
                                "progress": {"type": ["number", "null"]},
                                "eta_s": {"type": ["number", "null"]},
                                "fills_seen": {"type": ["integer", "null"]},
                                "last_success_ms": NULL_MS,
                                "last_error": {"type": ["string", "null"]},
                            },
                        },
                    },
                    "required": ["label", "exchange", "status"],
                },
            },
            "worker": {"type": ["object", "null"]},
        },
        "required": ["generated_at", "accounts"],
    },
    "Health": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded"]},
            "database": {"type": "string"},
            "worker": {"type": "string"},
            "time_ms": MS,
            "version": {"type": "string"},
        },
        "required": ["status", "database", "time_ms"],
    },
    "Embed": {
        "type": "object",
        "description": "aggregate figures only",
        "properties": {
            "generated_at": {"type": "string"},
            "totals": {"$ref": "#/components/schemas/Periods"},
            "by_exchange": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Periods"}},
        },
        "required": ["generated_at", "totals", "by_exchange"],
        "additionalProperties": False,
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json(_ref("Error"))}


def _ok(ref: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": _json(_ref(ref))}


_AUTH_ERRORS = {"401": _err("missing or invalid bearer token, or PERPVOL_API_TOKEN unset on the server")}
_LABEL_PARAM = {"name": "label", "in": "path", "required": True, "schema": {"type": "string"}}
_TOKEN_PARAM = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}


def _paths() -> dict[str, Any]:
    body = {"required": True, "content": _json(_ref("AccountCreate"))}
    return {
        "/api/v1/health": {
            "get": {
                "summary": "Liveness and database reachability (no token)",
                "security": [],
                "responses": {"200": _ok("Health")},
            }
        },
        "/api/v1/accounts": {
            "get": {
                "summary": "Accounts with a masked credential hint",
                "responses": {"200": _ok("AccountList"), **_AUTH_ERRORS},
            },
            "post": {
                "summary": "Add an account (credentials tested against the exchange first, never echoed)",
                "requestBody": body,
                "responses": {
                    "201": _ok("Account", "created"),
                    "400": _err("invalid label, exchange, base_url or missing credential field"),
                    "409": _err("the label exists, or the vault is unavailable"),
                    "413": _err("body too large"),
                    "415": _err("not JSON"),
                    "422": _err("the exchange refused the credentials"),
                    "424": _err("the exchange could not be reached"),
                    "429": _err("rate-limited by the exchange"),
                    **_AUTH_ERRORS,
                },
            },
        },
        "/api/v1/accounts/{label}": {
            "delete": {
                "summary": "Remove an account, its fills and its encrypted credentials",
                "parameters": [_LABEL_PARAM],
                "responses": {
                    "204": {"description": "removed"},
                    "400": _err("invalid label"),
                    "404": _err("no such account"),
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/v1/accounts/{label}/test": {
            "post": {
                "summary": "Test stored credentials against the exchange",
                "parameters": [_LABEL_PARAM],
                "responses": {
                    "200": _ok("AccountTest"),
                    "400": _err("invalid label"),
                    "404": _err("no such account"),
                    "409": _err("the vault is unavailable"),
                    "422": _err("the exchange refused the credentials"),
                    "424": _err("the exchange could not be reached"),
                    "429": _err("rate-limited by the exchange"),
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/v1/sync": {
            "post": {
                "summary": "Start an incremental sync now (all accounts, or one label)",
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SyncRequest"}}},
                },
                "responses": {
                    "202": _ok("SyncStarted", "accepted"),
                    "400": _err("invalid body or label"),
                    "404": _err("no such account"),
                    "409": _err("this server runs no background worker"),
                    "415": _err("not JSON"),
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/v1/sync/status": {
            "get": {
                "summary": "Per-account sync state and progress",
                "responses": {"200": _ok("SyncStatus"), **_AUTH_ERRORS},
            }
        },
        "/api/v1/volume/summary": {
            "get": {
                "summary": "Counted perp volume for 24h, 7d, 30d and all time, total and per exchange",
                "responses": {"200": _ok("Summary"), **_AUTH_ERRORS},
            }
        },
        "/api/v1/volume/daily": {
            "get": {
                "summary": "Daily counted perp volume (UTC days, inclusive range)",
                "parameters": [
                    {"name": "from", "in": "query", "required": False, "schema": DATE},
                    {"name": "to", "in": "query", "required": False, "schema": DATE},
                    {"name": "exchange", "in": "query", "required": False, "schema": EXCHANGE},
                    {
                        "name": "market",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_\\-]{1,80}$"},
                    },
                ],
                "responses": {
                    "200": _ok("Daily"),
                    "400": _err("invalid date, range, exchange, market or unknown parameter"),
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/v1/volume/current": {
            "get": {
                "summary": "The live 24-hour volume (also pushed on /api/v1/stream)",
                "responses": {"200": _ok("Current"), **_AUTH_ERRORS},
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": {"description": "OpenAPI document", "content": _json({"type": "object"})},
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/v1/stream": {
            "get": {
                "summary": "WebSocket: volume changes and sync progress as JSON messages",
                "description": (
                    "Upgrade to a WebSocket (token in `Authorization: Bearer` or `?token=`). Messages: "
                    '`{"type": "volume", "totals": {...}, "by_exchange": {...}, "ts_ms": ...}` (a snapshot first, '
                    'then every change), `{"type": "sync_progress"|"sync_done"|"account_status"|"live_status", ...}`.'
                ),
                "parameters": [{"name": "token", "in": "query", "required": False, "schema": {"type": "string"}}],
                "responses": {
                    "101": {"description": "switching protocols"},
                    "400": _err("not a WebSocket upgrade"),
                    **_AUTH_ERRORS,
                },
            }
        },
        "/embed/{token}": {
            "get": {
                "summary": "Read-only gold-on-black widget (aggregate figures only; no bearer token)",
                "security": [],
                "parameters": [_TOKEN_PARAM],
                "responses": {
                    "200": {"description": "HTML widget", "content": {"text/html": {"schema": {"type": "string"}}}},
                    "404": _err("unknown or revoked token (reveals nothing)"),
                },
            }
        },
        "/embed/{token}.json": {
            "get": {
                "summary": "The widget's figures as JSON (aggregates only)",
                "security": [],
                "parameters": [_TOKEN_PARAM],
                "responses": {"200": _ok("Embed"), "404": _err("unknown or revoked token (reveals nothing)")},
            }
        },
    }


_DOC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "perpvol API",
        "version": "1.0.0",
        "description": (
            "Your own perpetual-futures volume on WOO X and Paradex. Money is exact decimal strings; "
            "times are UTC epoch milliseconds. Every error is JSON {error, message} with a 4xx status."
        ),
    },
    "servers": [{"url": "/"}],
    "security": [{"bearerAuth": []}],
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "description": "PERPVOL_API_TOKEN"}},
        "schemas": _SCHEMAS,
    },
    "paths": _paths(),
}


def openapi_document() -> dict[str, Any]:
    """A fresh copy of the OpenAPI document (callers may mutate it)."""
    return copy.deepcopy(_DOC)
