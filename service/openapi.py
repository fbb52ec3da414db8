"""The OpenAPI 3.1 document of the service, and its rendering as an HTML page.

The document is assembled once, when the app is created, from a base (info, the error schema,
the shared error responses) and one *fragment* per route module: a partial OpenAPI document
(``tags``, ``paths``, ``components``) returned by the module's ``openapi_fragment(settings)``.
A new route module documents itself by providing that function; nothing here changes.
The HTML page is the same document rendered once, self-contained (no scripts, no external
resources), so it works offline and behind any firewall; ``service.routes.docs`` serves both.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from flask import Flask

from service.config import Settings

OPENAPI_KEY = "headline_openapi"

# status -> (component name, description, error codes the service uses with it)
ERROR_RESPONSES: dict[int, tuple[str, str, tuple[str, ...]]] = {
    400: ("BadRequest", "The body is not valid UTF-8 or not valid JSON.",
          ("malformed_json", "invalid_utf8")),
    404: ("NotFound", "No such route, or no such model.", ("not_found", "model_not_found")),
    405: ("MethodNotAllowed", "The route exists but not with this method; the Allow header lists "
          "the methods it takes.", ("method_not_allowed",)),
    413: ("PayloadTooLarge", "The body is larger than MAX_BODY_BYTES. It is refused from its "
          "Content-Length before it is read; a chunked body as soon as it passes the limit.",
          ("body_too_large",)),
    415: ("UnsupportedMediaType", "The body is not sent as JSON (Content-Type: application/json).",
          ("unsupported_media_type",)),
    422: ("ValidationError", "The JSON is well formed but breaks the contract; 'field' names the "
          "offending field, e.g. 'headline' or 'headlines[3]'.",
          ("missing_field", "wrong_type", "unknown_field", "empty_headline", "headline_too_long",
           "empty_batch", "batch_too_large", "bad_tensor")),
    500: ("InternalError", "The service failed; the error is logged with its traceback under "
          "the request_id given here.", ("internal_error",)),
    503: ("NotReady", "The model is not loaded or cannot score.", ("not_ready",)),
}


def ref(schema: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{schema}"}


def json_body(schema: str, example: Any = None) -> dict[str, Any]:
    """A required JSON request body of a component schema."""
    media: dict[str, Any] = {"schema": ref(schema)}
    if example is not None:
        media["example"] = example
    return {"required": True, "content": {"application/json": media}}


def json_response(description: str, schema: str | dict[str, Any], example: Any = None
                  ) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": ref(schema) if isinstance(schema, str) else schema}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


EXAMPLE_REQUEST_ID = "5f0c2b8e1d3a4c6f9e7b2a1d0c3e4f5a"


def error_example(description: str, code: str, message: str) -> dict[str, Any]:
    """A documented error response: the Error schema, with one example error."""
    return json_response(description, "Error", {"error": {
        "code": code, "message": message, "field": None, "request_id": EXAMPLE_REQUEST_ID}})


def error_responses(*statuses: int) -> dict[str, Any]:
    """References to the shared error responses, for an operation's ``responses``."""
    return {str(s): {"$ref": f"#/components/responses/{ERROR_RESPONSES[s][0]}"} for s in statuses}


@functools.cache
def service_version() -> str:
    """The installed headline-scorer package's version ("unknown" when run uninstalled)."""
    try:
        return package_version("headline-scorer")
    except PackageNotFoundError:
        return "unknown"


def _base_document(settings: Settings) -> dict[str, Any]:
    api_version = service_version()
    error_schema = {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string", "description": "Machine-readable reason, e.g. 'wrong_type'."},
                "message": {"type": "string", "description": "What is wrong, for a person."},
                "field": {"type": ["string", "null"],
                          "description": "The request field at fault, e.g. 'headlines[3]', or null."},
                "request_id": {"type": ["string", "null"],
                               "description": "The request's X-Request-ID, to find its log line."},
            },
        }},
    }
    responses = {}
    for name, description, codes in ERROR_RESPONSES.values():
        responses[name] = error_example(f"{description} Codes: {', '.join(codes)}.", codes[0],
                                        description)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "headline-scorer",
            "version": api_version,
            "summary": "Scores how sensational a news headline's phrasing is, and explains why.",
            "description": (
                "Every response is JSON in UTF-8 (except /metrics and /docs). Every error has the "
                "shape {\"error\": {\"code\", \"message\", \"field\", \"request_id\"}}; a URL no "
                "route serves gets a 404 and a method a route does not take gets a 405, in that "
                "shape. Each request may carry an X-Request-ID header (up to 128 visible ASCII "
                "characters); it is echoed in the response, or a new one is generated. Limits: "
                f"bodies up to {settings.max_body_bytes} bytes (MAX_BODY_BYTES), headlines up to "
                f"{settings.max_headline_chars} characters after normalisation "
                f"(MAX_HEADLINE_CHARS), batches of 1 to {settings.max_batch} headlines (MAX_BATCH)."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "tags": [],
        "paths": {},
        "components": {
            "schemas": {"Error": error_schema},
            "responses": responses,
            # Every admin route (service.admin, the feedback export) refers to this one scheme.
            "securitySchemes": {"adminToken": {
                "type": "http", "scheme": "bearer",
                "description": "The value of HEADLINE_ADMIN_TOKEN."}},
        },
    }


def build_document(settings: Settings, fragments: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The whole OpenAPI document: the base plus each route module's fragment."""
    document = _base_document(settings)
    for fragment in fragments:
        document["tags"].extend(fragment.get("tags", []))
        for path, operations in fragment.get("paths", {}).items():
            target = document["paths"].setdefault(path, {})
            for method, operation in operations.items():
                if method in target:
                    raise ValueError(f"OpenAPI: {method.upper()} {path} is documented twice")
                target[method] = operation
        for section, entries in fragment.get("components", {}).items():
            target = document["components"].setdefault(section, {})
            for name, entry in entries.items():
                if name in target:
                    raise ValueError(f"OpenAPI: components/{section}/{name} is defined twice")
                target[name] = entry
    return document


@dataclass(frozen=True)
class PublishedDocument:
    """The document and its two renderings, computed once per app."""

    document: dict[str, Any]
    json_bytes: bytes
    html_bytes: bytes


def install_openapi(app: Flask, settings: Settings, fragments: Iterable[dict[str, Any]]) -> None:
    """Build the document from ``fragments`` and serve it from ``app``."""
    document = build_document(settings, fragments)
    app.extensions[OPENAPI_KEY] = PublishedDocument(
        document=document,
        json_bytes=json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8"),
        html_bytes=render_html(document).encode("utf-8"),
    )


# --- HTML rendering ------------------------------------------------------------------------

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:0 auto;padding:1rem 2rem;color:#222}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #ddd;margin-top:2.5rem}
h3{margin:1.8rem 0 .4rem}code,pre{font:13px/1.4 ui-monospace,monospace}
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;border-radius:4px}
table{border-collapse:collapse;margin:.4rem 0 1rem;width:100%}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}.method{display:inline-block;min-width:3.6rem;padding:0 .4rem;
border-radius:3px;color:#fff;font-weight:bold;text-align:center}.get{background:#2f7d32}
.post{background:#1f5fa8}.put,.patch{background:#a86b1f}.delete{background:#a8321f}
nav li{list-style:none}nav ul{padding-left:1rem}.muted{color:#666}
"""
_CODE = re.compile(r"`([^`]+)`")


def _text(value: str) -> str:
    return _CODE.sub(r"<code>\1</code>", html.escape(value))


def _anchor(kind: str, name: str) -> str:
    return kind + "-" + re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")


def _ref_name(reference: str) -> str:
    return reference.rsplit("/", 1)[-1]


def _type_of(schema: dict[str, Any]) -> str:
    """A short HTML description of a schema's type, linking to named schemas."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f'<a href="#{_anchor("schema", name)}">{html.escape(name)}</a>'
    kinds = schema.get("type", "any")
    kind = " or ".join(kinds) if isinstance(kinds, list) else kinds
    if kind == "array" and "items" in schema:
        return "array of " + _type_of(schema["items"])
    return html.escape(kind)


def _constraints(schema: dict[str, Any]) -> str:
    words = {"minimum": "min", "maximum": "max", "minLength": "min length", "maxLength": "max length",
             "minItems": "min items", "maxItems": "max items", "default": "default"}
    parts = [f"{label} {json.dumps(schema[key])}" for key, label in words.items() if key in schema]
    if "enum" in schema:
        parts.append("one of " + ", ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"]))
    return html.escape("; ".join(parts))


def _schema_table(schema: dict[str, Any]) -> str:
    properties = schema.get("properties")
    if not properties:
        note = _constraints(schema)
        return f"<p>{_type_of(schema)}{' (' + note + ')' if note else ''}</p>"
    needed = set(schema.get("required", []))
    rows = []
    for name, prop in properties.items():
        detail = _text(prop.get("description", ""))
        note = _constraints(prop)
        if note:
            detail += f' <span class="muted">({note})</span>'
        if "properties" in prop:
            detail += _schema_table(prop)
        rows.append(f"<tr><td><code>{html.escape(name)}</code></td><td>{_type_of(prop)}</td>"
                    f"<td>{'yes' if name in needed else 'no'}</td><td>{detail}</td></tr>")
    extra = "" if schema.get("additionalProperties", True) is not False else \
        '<p class="muted">No other fields are accepted.</p>'
    return ("<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>"
            + "".join(rows) + "</table>" + extra)


def _example(value: Any) -> str:
    return f"<pre>{html.escape(json.dumps(value, indent=2, ensure_ascii=False))}</pre>"


def _operation(document: dict[str, Any], path: str, method: str, op: dict[str, Any]) -> str:
    out = [f'<h3 id="{_anchor("op", method + path)}"><span class="method {method}">{method.upper()}'
           f"</span> <code>{html.escape(path)}</code></h3>",
           f"<p><strong>{_text(op.get('summary', ''))}</strong></p>"]
    if op.get("description"):
        out.append(f"<p>{_text(op['description'])}</p>")
    if op.get("parameters"):
        out.append("<p>Parameters:</p><table><tr><th>name</th><th>in</th><th>type</th>"
                   "<th>description</th></tr>")
        for p in op["parameters"]:
            out.append(f"<tr><td><code>{html.escape(p['name'])}</code></td><td>{html.escape(p['in'])}"
                       f"</td><td>{_type_of(p.get('schema', {}))}</td>"
                       f"<td>{_text(p.get('description', ''))}</td></tr>")
        out.append("</table>")
    body = op.get("requestBody")
    if body:
        for media_type, media in body["content"].items():
            out.append(f"<p>Request body ({html.escape(media_type)}): {_type_of(media['schema'])}</p>")
            if "example" in media:
                out.append(_example(media["example"]))
    out.append("<p>Responses:</p><table><tr><th>status</th><th>description</th><th>body</th></tr>")
    examples = []
    for status, response in op["responses"].items():
        if "$ref" in response:
            response = document["components"]["responses"][_ref_name(response["$ref"])]
        content = response.get("content", {})
        bodies = ", ".join(f"{_type_of(m.get('schema', {}))} ({html.escape(t)})"
                           for t, m in content.items())
        out.append(f"<tr><td>{html.escape(status)}</td><td>{_text(response['description'])}</td>"
                   f"<td>{bodies}</td></tr>")
        for media in content.values():
            if "example" in media and status.startswith("2"):
                examples.append(_example(media["example"]))
    out.append("</table>")
    if examples:
        out.append("<p>Example response:</p>" + "".join(examples))
    return "\n".join(out)


def render_html(document: dict[str, Any]) -> str:
    """The document as one self-contained HTML page."""
    info = document["info"]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {t["name"]: [] for t in document["tags"]}
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((path, method, op))
    tag_text = {t["name"]: t.get("description", "") for t in document["tags"]}
    nav, sections = [], []
    for tag, operations in by_tag.items():
        if not operations:
            continue
        nav.append(f"<li><strong>{html.escape(tag)}</strong><ul>")
        sections.append(f'<h2 id="{_anchor("tag", tag)}">{html.escape(tag)}</h2>'
                        f"<p>{_text(tag_text.get(tag, ''))}</p>")
        for path, method, op in operations:
            nav.append(f'<li><a href="#{_anchor("op", method + path)}"><code>{method.upper()} '
                       f"{html.escape(path)}</code></a> {_text(op.get('summary', ''))}</li>")
            sections.append(_operation(document, path, method, op))
        nav.append("</ul></li>")
    schemas = []
    for name, schema in document["components"]["schemas"].items():
        schemas.append(f'<h3 id="{_anchor("schema", name)}">{html.escape(name)}</h3>')
        if schema.get("description"):
            schemas.append(f"<p>{_text(schema['description'])}</p>")
        schemas.append(_schema_table(schema))
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(info['title'])} API</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(info['title'])} API <span class=\"muted\">{html.escape(info['version'])}"
        f"</span></h1><p>{_text(info.get('summary', ''))}</p><p>{_text(info.get('description', ''))}</p>"
        '<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI '
        f"{html.escape(document['openapi'])}).</p>"
        f"<nav><ul>{''.join(nav)}</ul></nav>{''.join(sections)}"
        f"<h2 id=\"schemas\">Schemas</h2>{''.join(schemas)}</body></html>\n"
    )
