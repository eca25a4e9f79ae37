"""OpenAPI 3.1 document generated from the route registry and its pydantic models."""

from typing import Any

from pydantic import BaseModel, TypeAdapter

from meetings.permissions import PERMISSIONS
from signaling.api.registry import Api, RouteSpec

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}
_ERROR_RESPONSES = {
    "400": "Malformed request",
    "401": "Not authenticated",
    "403": "Not allowed (permission or CSRF)",
    "404": "Not found",
    "409": "Conflicts with the current state",
    "413": "Body too large",
    "422": "Invalid input",
    "429": "Too many attempts",
}


class _Schemas:
    def __init__(self) -> None:
        self.components: dict[str, Any] = {"Error": _ERROR_SCHEMA}

    def ref(self, tp: Any, mode: str) -> dict[str, Any]:
        schema = TypeAdapter(tp).json_schema(
            ref_template="#/components/schemas/{model}",
            mode=mode,  # type: ignore[arg-type]
        )
        self.components.update(schema.pop("$defs", {}))
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            self.components[tp.__name__] = schema
            return {"$ref": f"#/components/schemas/{tp.__name__}"}
        return schema


def _operation(spec: RouteSpec, schemas: _Schemas) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": spec.handler.__name__,
        "summary": spec.summary,
        "tags": list(spec.tags),
        "parameters": [
            {"name": p, "in": "path", "required": True, "schema": {"type": "integer"}}
            for p in spec.path_params
        ],
    }
    if spec.query is not None:
        for name, info in spec.query.model_fields.items():
            param_schema = TypeAdapter(info.annotation).json_schema()
            op["parameters"].append(
                {
                    "name": name,
                    "in": "query",
                    "required": info.is_required(),
                    "schema": param_schema,
                }
            )
    if spec.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas.ref(spec.body, "validation")}},
        }
    responses: dict[str, Any] = {}
    if spec.status == 204 or spec.response is None:
        responses[str(spec.status if spec.status != 200 else 204)] = {"description": "Done"}
    else:
        responses[str(spec.status)] = {
            "description": "Success",
            "content": {
                "application/json": {"schema": schemas.ref(spec.response, "serialization")}
            },
        }
    for code, text in _ERROR_RESPONSES.items():
        responses[code] = {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    op["responses"] = responses
    if spec.action is None:
        op["security"] = []
    else:
        op["security"] = [{"bearerAuth": []}, {"cookieAuth": []}]
        op["x-permission"] = spec.action.value
        rule = PERMISSIONS[spec.action]
        op["x-allowed"] = {
            "roles": sorted(r.value for r in rule.roles),
            "meeting_relations": sorted(r.value for r in rule.relations),
            "endpoints": rule.endpoints,
        }
    return op


def build_openapi(api: Api, version: str) -> dict[str, Any]:
    """The whole document; recomputed from the live registry, so it cannot drift."""
    schemas = _Schemas()
    paths: dict[str, Any] = {}
    for spec in api.routes:
        paths.setdefault(api.prefix + spec.path, {})[spec.method.lower()] = _operation(
            spec, schemas
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "phonghop API",
            "version": version,
            "description": "Video-conference and paperless-meeting server. Errors are "
            '`{"error": {"code", "message"}}`. Cookie-authenticated state changes need the '
            "`X-CSRF-Token` header.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "phonghop_session"},
            },
        },
    }
