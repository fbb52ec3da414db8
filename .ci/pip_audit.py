"""Run pip-audit on the project's virtualenv and report plainly: known vulnerabilities fail
the build, and packages the vulnerability service could not be asked about are listed (on a
machine that reaches only the package index, that is all of them: the run then proves
nothing, and says so)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

VENV = Path(".venv")


def main() -> int:
    report = VENV / "pip-audit.json"
    run = subprocess.run([str(VENV / "bin" / "pip-audit"), "--skip-editable", "--progress-spinner",
                          "off", "-f", "json", "-o", str(report)], text=True)
    if run.returncode not in (0, 1) or not report.exists():
        print(f"ci: pip-audit failed to run (exit {run.returncode})")
        return 1
    deps = json.loads(report.read_text())["dependencies"]
    found = [(d["name"], d["version"], v["id"], v.get("fix_versions") or [])
             for d in deps for v in d.get("vulns", [])]
    skipped = [d["name"] for d in deps if "skip_reason" in d]
    for name, version, vuln, fixes in found:
        print(f"ci: pip-audit: {name} {version}: {vuln} (fixed in {', '.join(fixes) or 'no release yet'})")
    print(f"ci: pip-audit: {len(deps) - len(skipped)} of {len(deps)} packages audited, "
          f"{len(found)} known vulnerabilities")
    if skipped:
        print(f"ci: pip-audit: NOT AUDITED ({len(skipped)}): the vulnerability service did not "
              f"answer for them: {', '.join(skipped[:8])}{', ...' if len(skipped) > 8 else ''}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
