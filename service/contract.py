"""The HTTP contract: every request and response body of the service, declared once.

Requests are pydantic models, validated strictly (JSON types are never coerced) with the
app's limits as validation context; :func:`validate` turns a violation into the service's one
error (:class:`service.errors.ValidationError`: code, message, field) in the order a reader
checks a body: an object's unknown fields first, then its fields in declaration order, depth
first. Answers are ``TypedDict`` s that the routes build as plain dicts, unvalidated (a batch
of 1,000 results validated through models costs more than scoring it); the tests check every
answer against the document. ``service.openapi`` generates the OpenAPI document from both.
Descriptions and bounds that depend on the app's settings are written as ``{max_batch}`` and
``{max_headline_chars}``; the document fills them in.
"""

from __future__ import annotations

from collections.abc import Callable
from types import NoneType, UnionType
from typing import (
    Annotated,
    Any,
    ClassVar,
    Literal,
    NotRequired,
    Protocol,
    TypeVar,
    Union,
    get_args,
    get_origin,
)

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

# typing_extensions' TypedDict: pydantic reads typing's only from Python 3.12 on.
from typing_extensions import TypedDict

from headline_scorer.audit import BANDS
from headline_scorer.extract import FORMATS
from headline_scorer.feedback_store import LABELS
from headline_scorer.text import (
    EMPTY_AFTER_NORMALISING,
    RAW_CHARS_PER_CHAR,
    TextTooLong,
    normalise_bounded,
    normalise_text,
)
from service.errors import ValidationError

MAX_BATCH = "{max_batch}"  # placeholders the document fills from the settings
MAX_HEADLINE_CHARS = "{max_headline_chars}"
RAW_HEADLINE_CHARS = "{raw_headline_chars}"  # RAW_CHARS_PER_CHAR x MAX_HEADLINE_CHARS
MAX_NOTE_CHARS = 2000
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
EXAMPLE_HEADLINES = ["You Will Not Believe What This Cat Did", "Parliament passes the budget bill"]

# --- the service's errors, raised by validators -------------------------------------------


class ContractViolation(ValueError):
    """A value the contract refuses, with the service's error code.

    ``about_field`` puts the field's name before the message ("headlines[3] is empty ...");
    ``at`` names a field below the one validated (a model validator's field).
    """

    def __init__(self, code: str, message: str, *, about_field: bool = False, at: tuple[str, ...] = ()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.about_field = about_field
        self.at = at


class Limits(Protocol):
    """The limits of one app (its settings), the context of every validation."""

    max_headline_chars: int  # MAX_HEADLINE_CHARS
    max_batch: int  # MAX_BATCH


def _limits(info: ValidationInfo) -> Limits:
    return info.context["limits"]


def _headline(value: str, info: ValidationInfo) -> str:
    # The limit counts the characters of the normalised text: that is what is scored, and it
    # does not depend on how much whitespace a client happened to send. Before normalising, the
    # raw text is held to RAW_CHARS_PER_CHAR times the limit, so a headline that NFKC would
    # expand costs nothing before its refusal.
    try:
        text = normalise_bounded(value, _limits(info).max_headline_chars)
    except TextTooLong as exc:
        limit = "MAX_HEADLINE_CHARS" if exc.normalised else f"{RAW_CHARS_PER_CHAR} x MAX_HEADLINE_CHARS"
        raise ContractViolation("headline_too_long", f"{exc} ({limit})", about_field=True) from None
    if not text:
        raise ContractViolation("empty_headline", EMPTY_AFTER_NORMALISING, about_field=True)
    return text


def _check_batch_size(value: Any, what: str, info: ValidationInfo) -> Any:
    """The number of headlines, checked before any of them (``what`` names them in messages)."""
    if isinstance(value, list):
        if not value:
            raise ContractViolation("empty_batch", f"{what} must hold at least one headline")
        limit = _limits(info).max_batch
        if len(value) > limit:
            raise ContractViolation("batch_too_large", f"{what} holds {len(value)} headlines; "
                                    f"the limit is {limit} (MAX_BATCH)")
    return value


def _choice(literal: Any, code: str, message: Callable[[str], str]) -> BeforeValidator:
    """A string outside the ``Literal`` refused with ``code`` (another type: ``wrong_type``)."""
    allowed = get_args(literal)

    def check(value: Any) -> Any:
        if isinstance(value, str) and value not in allowed:
            raise ContractViolation(code, message(value))
        return value

    return BeforeValidator(check)


def _whole_number(minimum: int, maximum: int) -> BeforeValidator:
    """A query parameter's digits as a whole number from ``minimum`` to ``maximum``."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if not (isinstance(value, str) and value.isascii() and value.isdigit()
                and minimum <= int(value) <= maximum):
            raise ContractViolation("invalid_parameter", f"{info.field_name} must be a whole number "
                                    f"from {minimum} to {maximum}, got {value!r}")
        return int(value)

    return BeforeValidator(check)


HEADLINE_DESCRIPTION = (
    "The headline. It is normalised before scoring (Unicode NFKC, control characters removed, runs "
    "of whitespace collapsed to one space, trimmed); it must not be empty after that and may have "
    f"at most {MAX_HEADLINE_CHARS} characters (Unicode code points) after it (MAX_HEADLINE_CHARS), "
    f"and at most {RAW_HEADLINE_CHARS} before it.")

Headline = Annotated[str, AfterValidator(_headline),
                     Field(description=HEADLINE_DESCRIPTION,
                           json_schema_extra={"minLength": 1, "maxLength": RAW_HEADLINE_CHARS})]
Label = Literal["sensational", "neutral"]
if get_args(Label) != LABELS:  # the store's labels are the contract's
    raise ImportError(f"service.contract.Label {get_args(Label)} differs from the store's {LABELS}")


class Contract(BaseModel):
    """A request body or query: strict JSON types, no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")
    #: How messages name a value of this type, and many of them.
    kind: ClassVar[str] = "an object"
    kinds: ClassVar[str] = "objects"


# --- v1 scoring ------------------------------------------------------------------------------


class ScoreRequest(Contract):
    """One headline to score."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"headline": EXAMPLE_HEADLINES[0]}]})
    headline: Headline


class BatchRequest(Contract):
    """Headlines to score, in order."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"headlines": EXAMPLE_HEADLINES, "explain": False}]})
    headlines: Annotated[list[Headline], BeforeValidator(
        lambda value, info: _check_batch_size(value, "headlines", info)), Field(
        description=f"1 to {MAX_BATCH} headlines (MAX_BATCH). One invalid headline rejects the batch, "
                    "naming it as headlines[i].",
        json_schema_extra={"minItems": 1, "maxItems": MAX_BATCH})]
    explain: bool = Field(True, description="false leaves out the cues, which is faster.")


class Cue(TypedDict):
    """A feature of the headline and how it moved the score."""

    text: Annotated[str, Field(description=(
        "A word or phrase of the headline, or a named style feature such as 'ALL-CAPS words', "
        "'exclamation mark', 'question mark'."))]
    weight: Annotated[float, Field(description=(
        "Signed contribution to the log-odds of sensational; positive pushes toward sensational."))]


Cues = Annotated[list[Cue], Field(
    max_length=5, description="Up to 5 features that moved this headline's score most, strongest first.")]
Score = Annotated[float, Field(
    ge=0, le=1, description="How sensational the phrasing is, 0 to 1 (calibrated probability).")]
ScoredLabel = Annotated[Label, Field(description="'sensational' when score >= threshold, else 'neutral'.")]
ScoredHeadline = Annotated[str, Field(description="The normalised text that was scored.")]


class ScoreResponse(TypedDict):
    """A headline's score, label and the cues that explain it."""

    headline: ScoredHeadline
    score: Score
    label: ScoredLabel
    threshold: Annotated[float, Field(description="The model's decision threshold.")]
    model_version: str
    cues: Cues


class BatchResult(TypedDict):
    """One headline of a batch; 'cues' only when explain is true."""

    headline: ScoredHeadline
    score: Score
    label: ScoredLabel
    cues: NotRequired[Cues]


class BatchResponse(TypedDict):
    """The scores of a batch, in input order."""

    model_version: str
    threshold: float
    results: Annotated[list[BatchResult], Field(description="One result per headline, in input order.")]


class ModelInfo(TypedDict):
    """The served model's facts, from its manifest."""

    version: str
    created_at: Annotated[str | None, Field(description="UTC time of training.")]
    threshold: float
    threshold_rule: str | None
    datasets: Annotated[list[dict[str, Any]], Field(
        description="The training data as recorded in the manifest.")]
    metrics: Annotated[dict[str, Any], Field(description="The evaluation, per dataset.")]
    libraries: dict[str, str]
    model_sha256: str | None


# --- calmer rewrites ------------------------------------------------------------------------

Band = Annotated[Literal["neutral", "borderline", "sensational"], Field(description=(
    "The band the editors' page draws: borderline where the odds of sensational are within a "
    "factor of two of the threshold's odds, neutral below, sensational above."))]


class SuggestRequest(Contract):
    """A headline to propose calmer versions of."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"headline": "SHOCKING: The Mayor DESTROYS The Budget Debate!"}]})
    headline: Headline


class RewriteEdit(TypedDict):
    """One change a rewrite rule made."""

    rule: Annotated[Literal["sentence_case", "exclamations_removed", "hype_label_dropped",
                            "plain_verb", "teaser_to_statement"], Field(description=(
        "ALL-CAPS ordinary word to lower case; '!' run removed; hype label dropped; tabloid verb "
        "replaced by a plain reporting verb; teaser frame turned into a statement."))]
    before: Annotated[str, Field(description="The text the rule changed.")]
    after: Annotated[str, Field(description="What it became; empty when removed.")]


class RewriteSuggestion(TypedDict):
    """A calmer rewrite, scored by the served model."""

    headline: ScoredHeadline
    score: Score
    label: ScoredLabel
    band: Band
    edits: list[RewriteEdit]


class SuggestResponse(TypedDict):
    """The headline's own score, and up to three rewrites that score lower, calmest first."""

    headline: ScoredHeadline
    score: Score
    label: ScoredLabel
    band: Band
    threshold: float
    model_version: str
    suggestions: Annotated[list[RewriteSuggestion], Field(max_length=3, description=(
        "Up to three rewrites, each scoring lower than the headline, lowest first; none changes "
        "a name, a number or a quotation. Empty when no rule applies or none scores lower."))]


# --- feedback --------------------------------------------------------------------------------


def _note(value: str | None) -> str | None:
    note = None if value is None else normalise_text(value) or None
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise ContractViolation("note_too_long", f"note has {len(note)} characters; the limit is "
                                f"{MAX_NOTE_CHARS}")
    return note


class FeedbackRequest(Contract):
    """An editor's judgment of a headline."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"headline": EXAMPLE_HEADLINES[0], "label": "neutral", "note": "a straight animal story"}]})
    headline: Headline
    label: Annotated[Label, _choice(Label, "invalid_label", lambda v: f"label must be 'sensational' or "
                                    f"'neutral', got {v!r}"),
                     Field(description="What the editor says the headline is (code invalid_label "
                                       "otherwise).")]
    note: Annotated[str | None, AfterValidator(_note), Field(description=(
        f"Optional remark, whitespace collapsed, at most {MAX_NOTE_CHARS} characters (code "
        "note_too_long)."))] = None


class FeedbackRecord(TypedDict):
    """A stored judgment."""

    id: Annotated[int, Field(description="Increasing record number.")]
    created_at: Annotated[str, Field(description="When it was stored, UTC.", json_schema_extra={
        "format": "date-time"})]
    headline: Annotated[str, Field(description="The normalised headline.")]
    label: Annotated[Label, Field(description="The editor's judgment.")]
    note: str | None
    model_version: Annotated[str, Field(description="The model served then.")]
    model_score: Annotated[float, Field(ge=0, le=1, description="That model's score for the headline.")]
    model_label: Annotated[Label, Field(description="That model's label for the headline.")]
    client_id: Annotated[str | None, Field(description=(
        "Who sent it: \"c-\" and 16 hex digits of a keyed hash (HMAC-SHA256) of the "
        "client's address (the proxy's X-Forwarded-For entry behind TRUSTED_PROXIES), the "
        "same for every judgment of one client; the address itself is not stored. Null for "
        "records stored before it was kept."))]
    request_id: Annotated[str | None, Field(description=(
        "The X-Request-ID of the request that stored it, to find its log lines; null for "
        "records stored before it was kept."))]


class FeedbackList(TypedDict):
    """A page of stored judgments."""

    total: Annotated[int, Field(description="Records stored in all.")]
    items: Annotated[list[FeedbackRecord], Field(
        description="Oldest first, ids above after_id, at most limit.")]
    next_after_id: Annotated[int | None, Field(
        description="Pass as after_id for the next page; null on the last page.")]


FeedbackFormat = Literal["json", "csv", "csv-raw", "jsonl"]


class FeedbackQuery(Contract):
    """The query of ``GET /v1/feedback``."""

    format: Annotated[FeedbackFormat, _choice(FeedbackFormat, "invalid_parameter", lambda v: (
        f"format must be one of {', '.join(get_args(FeedbackFormat))}, got {v!r}")),
        Field(description="json: a page of records; csv, csv-raw or jsonl: every record after "
                          "after_id as a download. csv is safe to open in a spreadsheet: a cell "
                          "starting with = + - @, a tab or a carriage return gets a leading single "
                          "quote (OWASP's advice against formula injection); csv-raw is the stored "
                          "text exactly, for machines.")] = "json"
    after_id: Annotated[int, _whole_number(0, 2**63 - 1), Field(
        ge=0, description="Only records with a larger id (the previous page's next_after_id).")] = 0
    limit: Annotated[int, _whole_number(1, MAX_LIMIT), Field(
        ge=1, le=MAX_LIMIT, description="Records per page, for format=json only.")] = DEFAULT_LIMIT

    @model_validator(mode="after")
    def _limit_pages_only(self) -> FeedbackQuery:
        if self.format != "json" and "limit" in self.model_fields_set:
            raise ContractViolation("unknown_field", "limit applies to the JSON list only; an export "
                                    "holds every record after after_id", at=("limit",))
        return self


# --- audits ----------------------------------------------------------------------------------

AuditFormat = Literal["feed", "html", "text"]
if get_args(AuditFormat) != FORMATS:  # the kinds the core's extraction reads are the contract's
    raise ImportError(f"service.contract.AuditFormat {get_args(AuditFormat)} differs from {FORMATS}")
Band = Literal["neutral", "borderline", "sensational"]
if get_args(Band) != BANDS:
    raise ImportError(f"service.contract.Band {get_args(Band)} differs from the core's {BANDS}")


class AuditRequest(Contract):
    """A document whose headlines to find, score and rank."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "document": "<html><body><main><h2>You Won't Believe What This Dog Did At The Airport</h2>"
                    "</main></body></html>"}]})
    document: Annotated[str, Field(description=(
        "The document itself: an RSS or Atom feed, an HTML page or a page's text, within the body "
        "limit (MAX_BODY_BYTES). The service never fetches a URL."))]
    format: Annotated[AuditFormat | None, _choice(AuditFormat, "invalid_format", lambda v: (
        f"format must be one of {', '.join(FORMATS)}, got {v!r}")), Field(description=(
        "Read the document as this kind (code invalid_format otherwise); by default the kind is "
        "detected from the content (a feed or an HTML document says so in its first bytes), else "
        "text."))] = None


class AuditedHeadline(TypedDict):
    """One distinct headline of the document, scored once."""

    headline: ScoredHeadline
    score: Score
    label: ScoredLabel
    cues: Cues
    band: Annotated[Band, Field(description=(
        "borderline: the odds of sensational within a factor of two of the threshold's, as on the "
        "editors' page."))]
    count: Annotated[int, Field(ge=1, description="How many times the document shows this headline.")]
    found_at: Annotated[list[str], Field(description=(
        "Where each of those stood: a CSS selector (HTML), the item's link or id (feeds), 'line N' "
        "(text)."))]


class AuditResponse(TypedDict):
    """The headlines found in a document, most sensational first."""

    model_version: str
    threshold: float
    format: Annotated[AuditFormat, Field(description="The kind the document was read as.")]
    found: Annotated[int, Field(ge=1, description="Headlines found, duplicates included.")]
    headlines: Annotated[list[AuditedHeadline], Field(
        description="Each distinct headline once, most sensational first.")]


# --- admin and operations ------------------------------------------------------------------


class ReloadResponse(TypedDict):
    """The outcome of a reload."""

    status: Annotated[Literal["reloaded", "unchanged"], Field(
        description="'unchanged' when models/current is the model served.")]
    model_version: Annotated[str, Field(description="The version served now.")]
    previous_version: str


class Health(TypedDict):
    """The process answers."""

    status: Literal["ok"]


class Readiness(TypedDict):
    """The model is loaded and scores a probe headline."""

    status: Literal["ready"]
    model_version: str


# --- the Open Inference Protocol (KServe V2) ----------------------------------------------

V2_MODEL_NAME = "headline-scorer"
V2_INPUT_NAME = "headline"
V2_OUTPUTS = {"score": "FP32", "label": "BYTES"}


class V2ModelPath(BaseModel):
    """The path parameters of the V2 model routes."""

    model_name: Annotated[Literal["headline-scorer"], Field(
        description=f"Always {V2_MODEL_NAME!r}; any other name gets a 404.")]
    model_version: Annotated[str, Field(description="The served model's version; any other gets a 404.")]


def _tensor_shape(value: Any) -> Any:
    if isinstance(value, list) and not (
            1 <= len(value) <= 2 and value[1:] in ([], [1])
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value)):
        raise ContractViolation("bad_tensor", f"the shape must be [N] or [N, 1], got {value!r}")
    return value


def _tensor_data(value: Any, info: ValidationInfo) -> Any:
    """The headlines of the tensor, flat, checked against its shape and the batch limit."""
    shape = info.data.get("shape")
    if not isinstance(value, list) or shape is None:  # a bad shape is the error to report
        return value
    # The protocol allows the data nested by the shape or flattened in row-major order.
    if len(shape) == 2 and value and all(isinstance(row, list) for row in value):
        if any(len(row) != 1 for row in value):
            raise ContractViolation("bad_tensor", "with shape [N, 1] each row of data holds one headline")
        value = [row[0] for row in value]
    if len(value) != shape[0]:
        raise ContractViolation("bad_tensor", f"shape {shape!r} says {shape[0]} headlines, data holds "
                                f"{len(value)}")
    return _check_batch_size(value, "the input tensor", info)


HeadlineRow = Annotated[list[Headline], Field(min_length=1, max_length=1)]
V2InputName = Literal["headline"]
V2InputType = Literal["BYTES"]
V2OutputName = Literal["score", "label"]


class V2InputTensor(Contract):
    """The input tensor: N headlines."""

    kind: ClassVar[str] = "a tensor object"
    kinds: ClassVar[str] = "tensors"
    name: Annotated[V2InputName, _choice(
        V2InputName, "bad_tensor", lambda v: f"the input tensor must be named {V2_INPUT_NAME!r}, not {v!r}")]
    datatype: Annotated[V2InputType, _choice(
        V2InputType, "bad_tensor", lambda v: f"the input tensor's datatype must be BYTES, not {v!r}")]
    shape: Annotated[list[Annotated[int, Field(ge=0)]], BeforeValidator(_tensor_shape), Field(
        min_length=1, max_length=2,
        description=f"[N] or [N, 1]; N from 1 to {MAX_BATCH} (MAX_BATCH).")]
    parameters: dict[str, Any] | None = None
    data: Annotated[list[Headline], BeforeValidator(
        _tensor_data, json_schema_input_type=list[Headline | HeadlineRow]), Field(
        description="N headlines, flat or nested as [[h], ...]; each checked like the headline of "
                    "/v1/score.")]


class V2RequestedOutput(Contract):
    """An output the client wants."""

    kinds: ClassVar[str] = "output objects"
    name: Annotated[V2OutputName, _choice(
        V2OutputName, "bad_tensor", lambda v: f"no output {v!r}; outputs are {', '.join(V2_OUTPUTS)}")]
    parameters: dict[str, Any] | None = None


def _one_tensor(value: Any) -> Any:
    if isinstance(value, list) and len(value) != 1:
        raise ContractViolation("bad_tensor", f"expected exactly one input tensor, got {len(value)}")
    return value


class V2InferenceRequest(Contract):
    """Headlines to score, as an Open Inference Protocol request."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"id": "42", "inputs": [
        {"name": "headline", "shape": [2], "datatype": "BYTES", "data": EXAMPLE_HEADLINES}]}]})
    id: Annotated[str | None, Field(description="Echoed in the response.")] = None
    # The protocol lets a client repeat the model in the body (kserve's client always does).
    model_name: Annotated[str | None, Field(description=(
        "The protocol's own field; when given, it must be the path's model_name."))] = None
    model_version: Annotated[str | None, Field(description=(
        "The protocol's own field; when given, it must be the served model's version."))] = None
    parameters: dict[str, Any] | None = None
    inputs: Annotated[list[V2InputTensor], BeforeValidator(_one_tensor), Field(min_length=1, max_length=1)]
    outputs: Annotated[list[V2RequestedOutput] | None, Field(
        description="Which outputs to return (default: all).")] = None


class V2OutputTensor(TypedDict):
    """An output tensor of N values, in input order."""

    name: Literal["score", "label"]
    shape: list[int]
    datatype: Literal["BYTES", "FP32"]
    data: list[float | str]


class V2InferenceResponse(TypedDict):
    """The outputs for the request's headlines."""

    model_name: str
    model_version: str
    id: NotRequired[str]
    outputs: list[V2OutputTensor]


class V2ServerMetadata(TypedDict):
    """The server's name, version and protocol extensions."""

    name: str
    version: str
    extensions: list[str]


class V2Live(TypedDict):
    """Server liveness."""

    live: bool


class V2Ready(TypedDict):
    """Server or model readiness."""

    name: NotRequired[str]
    ready: bool


class V2TensorMetadata(TypedDict):
    """A tensor's name, datatype and shape (-1: any length)."""

    name: str
    datatype: str
    shape: list[int]


class V2ModelMetadata(TypedDict):
    """The model's name, versions, platform and tensors."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[V2TensorMetadata]
    outputs: list[V2TensorMetadata]


class V2Error(TypedDict):
    """An error of the V2 routes: the protocol's message string under ``error``, and beside it
    the service's code, field and request id."""

    error: Annotated[str, Field(description="What is wrong, for a person (the protocol's field).")]
    code: Annotated[str, Field(description="Machine-readable reason, e.g. 'bad_tensor'.")]
    field: Annotated[str | None, Field(
        description="The request field at fault, e.g. 'inputs[0].data[2]', or null.")]
    request_id: NotRequired[Annotated[str | None, Field(
        description="The request's X-Request-ID, to find its log line.")]]


# --- errors ------------------------------------------------------------------------------------


class ErrorDetail(TypedDict):
    """What went wrong."""

    code: Annotated[str, Field(description="Machine-readable reason, e.g. 'wrong_type'.")]
    message: Annotated[str, Field(description="What is wrong, for a person.")]
    field: Annotated[str | None, Field(
        description="The request field at fault, e.g. 'headlines[3]', or null.")]
    request_id: NotRequired[Annotated[str | None, Field(
        description="The request's X-Request-ID, to find its log line.")]]


class Error(TypedDict):
    """Every error the service answers."""

    error: ErrorDetail


# --- pydantic's errors as the service's ------------------------------------------------------

M = TypeVar("M", bound=Contract)


def validate(model: type[M], data: Any, limits: Limits, where: str = "body") -> M:
    """``data`` (decoded JSON, or a query's parameters when ``where`` is "query") as ``model``,
    or the :class:`~service.errors.ValidationError` of its first violation."""
    try:
        return model.model_validate(data, context={"limits": limits})
    except PydanticValidationError as exc:
        raise _first_violation(model, exc.errors(include_url=False), where) from None


def _first_violation(model: type[Contract], errors: list[Any], where: str) -> ValidationError:
    # Pydantic reports an object's unknown fields after its fields; a reader checks them
    # first, the outer object's before an inner one's.
    first = errors[0]
    unknown = [e for e in errors if e["type"] == "extra_forbidden"
               and first["loc"][:len(e["loc"]) - 1] == e["loc"][:-1]]
    return _violation(model, min(unknown, key=lambda e: len(e["loc"]), default=first), where)


def _violation(model: type[Contract], error: Any, where: str) -> ValidationError:
    loc = tuple(error["loc"])
    kind = error["type"]
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ContractViolation):
        loc += cause.at
        field = _path(loc)
        message = f"{field} {cause.message}" if cause.about_field else cause.message
        return ValidationError(cause.code, message, field or None)
    field = _path(loc)
    if kind == "missing":
        return ValidationError("missing_field", f"the field {loc[-1]!r} is required", field)
    if kind == "extra_forbidden":
        allowed = ", ".join(sorted(_unwrap(_annotation_at(model, loc[:-1])).model_fields))
        what = "query parameter" if where == "query" else "field"
        return ValidationError("unknown_field", f"unknown {what} {loc[-1]!r}; expected only {allowed}", field)
    if kind.endswith("_type") or kind == "literal_error":
        got = _json_type(error["input"])
        if not loc:
            return ValidationError("wrong_type", f"the {where} must be a JSON object, got {got}", None)
        expected = _describe(_annotation_at(model, loc))
        return ValidationError("wrong_type", f"{field} must be {expected}, got {got}", field)
    # Constraints the validators above already enforce with their own codes end here only if
    # the two disagree; say what pydantic says rather than fail the request.
    return ValidationError("invalid_value", f"{field or 'the ' + where}: {error['msg']}", field or None)


def _path(loc: tuple[Any, ...]) -> str:
    """A location as the service names fields: ``inputs[0].data[2]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _unwrap(annotation: Any) -> Any:
    """The type inside ``Annotated[...]``."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _optional(annotation: Any) -> tuple[Any, bool]:
    """``X`` and whether null is allowed, for ``X | None``."""
    annotation = _unwrap(annotation)
    if get_origin(annotation) in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not NoneType]
        if len(members) == 1:
            return _unwrap(members[0]), True
    return annotation, False


def _annotation_at(model: type[Contract], loc: tuple[Any, ...]) -> Any:
    """The declared type of the value at ``loc`` in ``model``."""
    annotation: Any = model
    for part in loc:
        annotation, _ = _optional(annotation)
        if isinstance(part, int):
            annotation = get_args(annotation)[0]
        else:
            annotation = annotation.model_fields[part].annotation
    return annotation


def _describe(annotation: Any) -> str:
    """How a message names the type a field expects: "a string", "an array of tensors"."""
    annotation, nullable = _optional(annotation)
    origin = get_origin(annotation)
    if origin is list:
        item, _ = _optional(get_args(annotation)[0])
        plural = {str: "strings", int: "integers", float: "numbers"}.get(item)
        if plural is None and isinstance(item, type) and issubclass(item, Contract):
            plural = item.kinds
        text = f"an array of {plural}" if plural else "an array"
    elif isinstance(annotation, type) and issubclass(annotation, Contract):
        text = annotation.kind
    else:
        text = {str: "a string", bool: "a boolean", int: "a whole number", float: "a number",
                dict: "an object"}.get(origin or annotation, "a string" if origin is Literal else "a value")
    return text + " or null" if nullable else text

