"""`snakemake --lint`, failing on every lint except the ones this workflow has on purpose (listed with why)."""

import re
import subprocess
import sys

# (rule, lint) pairs that are deliberate. The per-clip spectrogram and per-recording prediction jobs have no
# `log:` because Snakemake would create an empty log file for each of thousands of jobs; they write a log
# only for a file that fails, and the error names the file and the reason (README "Bad input").
ALLOWED = {
    ("spectrogram", "No log directive defined"),
    ("predict_recording", "No log directive defined"),
}

proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], capture_output=True, text=True)
out = proc.stdout + proc.stderr
found, rule = [], None
for line in out.splitlines():
    m = re.match(r"^Lints for (?:rule (\S+)|snakefile \S+)", line)
    if m:
        rule = m.group(1) or "(snakefile)"
    elif (m := re.match(r"^\s+\* (.+?):?$", line)) and rule:
        found.append((rule, m.group(1)))
unexpected = [f for f in found if f not in ALLOWED]
for rule, lint in found:
    print(f"{'allowed' if (rule, lint) in ALLOWED else 'LINT'}: rule {rule}: {lint}")
if unexpected or (proc.returncode != 0 and not found):
    print(out[-3000:] if not found else "", file=sys.stderr)
    sys.exit(1)
print(f"snakemake --lint: {len(found)} deliberate lint(s), nothing else")
