"""Page and feed audits: find the headlines of RSS/Atom feeds, HTML pages and text dumps,
score each once, and report them ranked (terminal table, HTML report, CSV, JSONL).

``sources`` reads a file or URL within limits; the core's ``headline_scorer.extract`` finds
the headlines in it and ``headline_scorer.audit`` merges and scores them (the service's
``POST /v1/audit`` uses those two as well); ``report`` shows the result and ``command`` is
``headline-score audit``.
"""
