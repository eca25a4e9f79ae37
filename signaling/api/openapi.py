"""OpenAPI 3.1 document generated from the route registry and its pydantic models."""

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter

from meetings.permissions import PERMISSIONS
from signaling.api.content import Form, Produces, Reply, body_schema
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
_FORM_ERRORS = {"415": "Not multipart/form-data"}  # multipart routes check the Content-Type


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

    def form(self, form: Form) -> dict[str, Any]:
        """A multipart body: its file parts, and its text parts inlined from their model."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        if form.fields is not None:
            fields = TypeAdapter(form.fields).json_schema(
                ref_template="#/components/schemas/{model}", mode="validation"
            )
            self.components.update(fields.pop("$defs", {}))
            properties.update(fields.get("properties", {}))
            required += fields.get("required", [])
        for name, media_type in form.files.items():
            properties[name] = body_schema(media_type)
            required.append(name)
        schema = {
            "type": "object",
            "properties": properties,
            "required": sorted(required),
            "additionalProperties": False,  # the handler refuses any other part
        }
        encoding = {name: {"contentType": media} for name, media in form.files.items()}
        return {"multipart/form-data": {"schema": schema, "encoding": encoding}}


def _headers(headers: Mapping[str, str]) -> dict[str, Any]:
    return {
        name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()
    }


def _header_params(headers: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "header",
            "required": False,
            "description": text,
            "schema": {"type": "string"},
        }
        for name, text in headers.items()
    ]


def _reply(reply: Reply) -> dict[str, Any]:
    out: dict[str, Any] = {"description": reply.description}
    if reply.media_type is not None:
        out["content"] = {reply.media_type: {"schema": body_schema(reply.media_type)}}
    if reply.headers:
        out["headers"] = _headers(reply.headers)
    return out


def _produced(spec: RouteSpec, produces: Produces) -> dict[str, Any]:
    """The success and the other replies of a route answering with a file."""
    success = Reply(produces.description, produces.media_type, produces.headers)
    replies = {spec.status: success, **produces.replies}
    clash = {str(code) for code in replies} & (_ERROR_RESPONSES.keys() | _FORM_ERRORS.keys())
    if clash:
        # Those statuses are the shared JSON errors; a route cannot redefine them.
        raise ValueError(f"{spec.method} {spec.path}: replies {sorted(clash)} are errors")
    return {str(code): _reply(reply) for code, reply in sorted(replies.items())}


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
    if spec.form is not None:
        op["requestBody"] = {"required": True, "content": schemas.form(spec.form)}
    responses: dict[str, Any] = {}
    if spec.produces is not None:
        op["parameters"] += _header_params(spec.produces.request_headers)
        responses.update(_produced(spec, spec.produces))
    elif spec.status == 204 or spec.response is None:
        responses[str(spec.status if spec.status != 200 else 204)] = {"description": "Done"}
    else:
        responses[str(spec.status)] = {
            "description": "Success",
            "content": {
                "application/json": {"schema": schemas.ref(spec.response, "serialization")}
            },
        }
    errors = {**_ERROR_RESPONSES, **(_FORM_ERRORS if spec.form is not None else {})}
    for code, text in sorted(errors.items()):
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
