"""The OpenAPI 3.1 document of the service, generated from the contract and the routes.

Each view declares its operation with :func:`operation` (summary, tags, the contract types of
its body, query, path and answers, the errors it can give); :func:`build_document` walks the
app's URL map, so every route is documented and nothing else is, and takes every schema from
``service.contract`` through pydantic. The document is built once per app, and rendered once
into a self-contained HTML page (no scripts, no external resources) that works offline;
``service.routes.docs`` serves both.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any, TypeVar

from flask import Flask
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

from headline_scorer.text import RAW_CHARS_PER_CHAR
from service.config import Settings
from service.contract import MAX_BATCH, MAX_HEADLINE_CHARS, RAW_HEADLINE_CHARS, Error

OPENAPI_KEY = "headline_openapi"
REF_TEMPLATE = "#/components/schemas/{model}"
JSON = "application/json"

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
           "empty_batch", "batch_too_large", "bad_tensor", "invalid_label", "note_too_long",
           "invalid_parameter", "invalid_value")),
    500: ("InternalError", "The service failed; the error is logged with its traceback under "
          "the request_id given here.", ("internal_error",)),
    503: ("NotReady", "The model is not loaded or cannot score.", ("not_ready",)),
}

TAGS = (
    ("scoring", "Score headlines."),
    ("model", "The model being served."),
    ("feedback", "Editors' judgments, stored to retrain on."),
    ("web", "The editors' page."),
    ("kserve", "Open Inference Protocol (KServe V2) endpoints."),
    ("operations", "Health, metrics and documentation."),
    ("admin", "Operating the model. Only when HEADLINE_ADMIN_TOKEN is set (otherwise every /admin/ "
              "path is a 404); each request needs 'Authorization: Bearer <token>'."),
)

EXAMPLE_REQUEST_ID = "5f0c2b8e1d3a4c6f9e7b2a1d0c3e4f5a"


@dataclass(frozen=True)
class Reply:
    """A documented answer: a contract type sent as JSON, or text in the given media types."""

    description: str
    body: Any = None
    media: tuple[str, ...] = (JSON,)
    example: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)  # name -> description


def error_reply(description: str, code: str, message: str, headers: Mapping[str, str] | None = None
                ) -> Reply:
    """A documented error answer with one example error."""
    return Reply(description, Error, example={"error": {
        "code": code, "message": message, "field": None, "request_id": EXAMPLE_REQUEST_ID}},
        headers=headers or {})


@dataclass(frozen=True)
class Operation:
    """What the document says about one view (all the URL rules it serves).

    ``operation_id`` is one id, or one per rule of the view, shortest rule first.
    ``errors`` are statuses of the shared error responses (:data:`ERROR_RESPONSES`).
    """

    operation_id: str | tuple[str, ...]
    summary: str
    tag: str
    replies: Mapping[int, Reply]
    description: str = ""
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    admin: bool = False
    # The route checks HEADLINE_FEEDBACK_TOKEN (POST /v1/feedback): required in the document
    # when it is set, optional (an empty alternative) when it is not.
    feedback_token: bool = False


V = TypeVar("V", bound=Callable[..., Any])


def operation(**declared: Any) -> Callable[[V], V]:
    """Declare the operation of a view (the fields of :class:`Operation`)."""
    described = Operation(**declared)

    def mark(view: V) -> V:
        view.operation = described  # type: ignore[attr-defined]
        return view

    return mark


@functools.cache
def service_version() -> str:
    """The installed headline-scorer package's version ("unknown" when run uninstalled)."""
    try:
        return package_version("headline-scorer")
    except PackageNotFoundError:
        return "unknown"


class _Schemas(GenerateJsonSchema):
    # Property names say it already; a title per property only clutters generated clients.
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _fill_limits(node: Any, settings: Settings) -> Any:
    """``node`` with the contract's limit placeholders replaced by the app's limits."""
    limits = {MAX_BATCH: settings.max_batch, MAX_HEADLINE_CHARS: settings.max_headline_chars,
              RAW_HEADLINE_CHARS: RAW_CHARS_PER_CHAR * settings.max_headline_chars}
    if isinstance(node, dict):
        return {key: _fill_limits(value, settings) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill_limits(value, settings) for value in node]
    if isinstance(node, str):
        if node in limits:
            return limits[node]
        for placeholder, value in limits.items():
            node = node.replace(placeholder, str(value))
    return node


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _parameters(model: type[BaseModel] | None, where: str, names: list[str] | None = None
                ) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema(ref_template=REF_TEMPLATE, schema_generator=_Schemas)
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema["properties"].items():
        if names is not None and name not in names:
            continue
        prop = dict(prop)
        description = prop.pop("description", "")
        out.append({"name": name, "in": where, "required": where == "path" or name in required,
                    "schema": prop, "description": description})
    return out


def _media(reply: Reply, refs: Mapping[tuple[Any, str], Any]) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for media in reply.media:
        if media == JSON and reply.body is not None:
            entry: dict[str, Any] = {"schema": refs[(reply.body, "serialization")]}
            if reply.example is not None:
                entry["example"] = reply.example
        else:
            entry = {"schema": {"type": "string"}}
        content[media] = entry
    out: dict[str, Any] = {"description": reply.description, "content": content}
    if reply.headers:
        out["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                          for name, text in reply.headers.items()}
    return out


def build_document(settings: Settings, app: Flask) -> dict[str, Any]:
    """The OpenAPI document of ``app``'s routes (its model is not needed)."""
    rules_of: dict[str, list[Any]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":  # the page's assets are files, not an API
            rules_of.setdefault(rule.endpoint, []).append(rule)
    wanted: dict[tuple[Any, str], Any] = {(Error, "serialization"): None}
    declared = {}
    for endpoint in rules_of:
        op: Operation | None = getattr(app.view_functions[endpoint], "operation", None)
        if op is None:
            raise ValueError(f"OpenAPI: the view {endpoint} declares no operation")
        declared[endpoint] = op
        if op.body is not None:
            wanted[(op.body, "validation")] = None
        for reply in op.replies.values():
            if reply.body is not None:
                wanted[(reply.body, "serialization")] = None
    refs, definitions = TypeAdapter.json_schemas(
        [(kind, mode, TypeAdapter(kind)) for kind, mode in wanted], ref_template=REF_TEMPLATE,
        schema_generator=_Schemas)

    paths: dict[str, dict[str, Any]] = {}
    for endpoint, rules in rules_of.items():
        op = declared[endpoint]
        rules.sort(key=lambda r: (len(r.arguments), r.rule))
        ids = (op.operation_id,) if isinstance(op.operation_id, str) else op.operation_id
        if len(ids) != len(rules):
            raise ValueError(f"OpenAPI: {endpoint} serves {len(rules)} rules but names {len(ids)} ids")
        for rule, operation_id in zip(rules, ids):
            document_op: dict[str, Any] = {"tags": [op.tag], "operationId": operation_id,
                                           "summary": op.summary}
            if op.description:
                document_op["description"] = op.description
            if op.admin:
                document_op["security"] = [{"adminToken": []}]
            elif op.feedback_token:
                document_op["security"] = ([{"feedbackToken": []}] if settings.feedback_token
                                           else [{"feedbackToken": []}, {}])
            parameters = (_parameters(op.path, "path", sorted(rule.arguments))
                          + _parameters(op.query, "query"))
            if parameters:
                document_op["parameters"] = parameters
            if op.body is not None:
                document_op["requestBody"] = {"required": True, "content": {
                    JSON: {"schema": refs[(op.body, "validation")]}}}
            responses: dict[str, Any] = {str(status): _media(reply, refs)
                                         for status, reply in op.replies.items()}
            for status in op.errors:
                responses[str(status)] = {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"}
            document_op["responses"] = dict(sorted(responses.items()))
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                paths.setdefault(_openapi_path(rule.rule), {})[method.lower()] = document_op

    error_ref = refs[(Error, "serialization")]
    shared = {}
    for name, description, codes in ERROR_RESPONSES.values():
        shared[name] = {"description": f"{description} Codes: {', '.join(codes)}.", "content": {JSON: {
            "schema": error_ref, "example": {"error": {"code": codes[0], "message": description,
                                                       "field": None, "request_id": EXAMPLE_REQUEST_ID}}}}}
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "headline-scorer",
            "version": service_version(),
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
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": definitions.get("$defs", {}),
            "responses": shared,
            # Every admin route (the reload, the feedback export) refers to this one scheme.
            "securitySchemes": {"adminToken": {
                "type": "http", "scheme": "bearer",
                "description": "The value of HEADLINE_ADMIN_TOKEN."},
                # POST /v1/feedback, when a deployment lets only its own tools write feedback.
                "feedbackToken": {
                "type": "http", "scheme": "bearer",
                "description": "The value of HEADLINE_FEEDBACK_TOKEN; not needed when it is unset."}},
        },
    }
    return _fill_limits(document, settings)


@dataclass(frozen=True)
class PublishedDocument:
    """The document and its two renderings, computed once per app."""

    document: dict[str, Any]
    json_bytes: bytes
    html_bytes: bytes


def install_openapi(app: Flask, settings: Settings) -> None:
    """Build the document of ``app``'s routes and keep it for ``service.routes.docs`` to serve."""
    document = build_document(settings, app)
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
    if "anyOf" in schema:
        return " or ".join(_type_of(member) for member in schema["anyOf"])
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
    if "const" in schema:
        parts.append("exactly " + json.dumps(schema["const"], ensure_ascii=False))
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
            schema = document["components"]["schemas"].get(_ref_name(media["schema"].get("$ref", "")), {})
            if schema.get("examples"):
                out.append(_example(schema["examples"][0]))
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
