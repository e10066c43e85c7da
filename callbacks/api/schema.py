"""OpenAPI descriptions drf-spectacular cannot infer: the Bearer API key scheme."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "callbacks.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key of the account: `Authorization: Bearer cbk_…`.",
        }


API_PREFIX = "/api/v1/"
ERROR_SCHEMA = {
    "type": "object",
    "description": "`detail` for request-wide errors; otherwise each failing field (or query parameter) "
    "named, with its messages.",
    "properties": {"detail": {"type": "string"}},
    # Messages per field: a list of strings, or an object of them for items of lists and objects.
    "additionalProperties": {},
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input: the failing fields are named.",
    "401": "No API key, or an invalid, expired or revoked one.",
    "403": "The API key lacks the scope this request needs.",
    "404": "Not found (or another account's).",
    "415": "The body's media type is not one the operation reads, or the body cannot be read as it.",
    "429": "Too many failed authentications from this address.",
}


def error_responses_document(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: document the error answers every API operation can give."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for operation in operations.values():
            codes = ["400", "401", "403", "429"]
            if "{" in path:
                codes.append("404")
            if "requestBody" in operation:
                codes.append("415")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, {"description": ERROR_DESCRIPTIONS[code], "content": reference})
    return result
