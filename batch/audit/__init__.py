"""Page and feed audits: find the headlines of RSS/Atom feeds, HTML pages and text dumps,
score each once, and report them ranked (terminal table, HTML report, CSV, JSONL).

``sources`` reads a file or URL within limits, ``extract`` finds the headlines in it,
``scoring`` merges and scores them, ``report`` shows the result and ``command`` is
``headline-score audit``.
"""
