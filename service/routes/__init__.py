"""The service's routes, one module per group, each a Flask ``blueprint`` registered by
``service.app.create_app``: ``score`` (/v1/score, /v1/score/batch, /v1/model), ``audit``
(/v1/audit, the headlines of a posted page or feed), ``kserve``
(the Open Inference Protocol, /v2/...), ``feedback`` (/v1/feedback), ``admin`` (/admin/...),
``ops`` (health, readiness, metrics), ``web`` (the editors' page), ``widget`` (/widget.js,
for CMS pages) and ``docs`` (/openapi.json, /docs). A route only translates between HTTP and
the one served scorer.
"""
