"""The Lua that both wrk-driven benchmarks (bench.py, loadtest.py) end their scripts with:
wrk's ``done`` hook printing the run's figures as one JSON line on stdout, which the Python
side parses (requests, errors by kind, latency percentiles in microseconds)."""

WRK_DONE_AS_JSON = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\n{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
"""
