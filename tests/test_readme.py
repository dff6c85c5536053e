"""README.md stays true: its Configure table lists every config key, its Outputs table every output."""

import re

import pytest

from conftest import REPO, run_snakemake
from seesound.config import load_schema

README = (REPO / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n## ", start + len(title))
    return README[start : end if end > 0 else len(README)]


def schema_keys(schema: dict, prefix: str = "") -> set[str]:
    """Every leaf key of the config schema as a dotted path (an object without properties is a leaf)."""
    keys = set()
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        if sub.get("type") == "object" and sub.get("properties"):
            keys |= schema_keys(sub, f"{path}.")
        else:
            keys.add(path)
    return keys


def configure_table_keys() -> set[str]:
    """Keys of the Configure table: the row's section (`train.augment`) + each backticked key in its cell."""
    rows = re.findall(r"^\| (.+?) \| (.+) \|$", section("## Configure"), flags=re.M)
    keys = set()
    for where, cell in rows:
        if where.startswith("---") or where == "section":
            continue
        prefix = "" if where == "top level" else where.strip("`") + "."
        # a key is a backticked name followed by its default in brackets; values in brackets are not keys
        keys |= {prefix + k for k in re.findall(r"`([a-z_0-9]+)` \(", cell)}
    return keys


def test_the_configure_table_lists_every_key_of_the_schema_and_no_other():
    documented, schema = configure_table_keys(), schema_keys(load_schema())
    assert sorted(schema - documented) == [], "keys missing from README's Configure table"
    assert sorted(documented - schema) == [], "README's Configure table lists keys the schema does not have"


def outputs_table_patterns() -> list[re.Pattern]:
    """Each backticked path of the Outputs table as a pattern below results_dir (`<x>` any part, `{a,b}`
    either, `…` anything, a trailing `/` everything below; after a path, `.ext` is that path's other file and
    a bare name its sibling)."""
    table = section("## Run").split("Outputs, all under", 1)[1]
    patterns = []
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split(" | ")[0]
        previous = None
        for path in re.findall(r"`([^`]+)`", cell):
            if path.startswith(".") and previous:  # `predictions/<recording>.csv`, `.json`: the same stem
                path = re.sub(r"\.[a-z.]+$", "", previous) + path
            elif "/" not in path and previous and "/" in previous:  # `model/weights/last.pt`, `best.pt`
                path = previous.rsplit("/", 1)[0] + "/" + path
            previous = path
            regex = re.escape(path)
            regex = re.sub(r"\\<[^>]*\\>|<[^>]*>", ".+", regex)
            regex = re.sub(r"\\\{([^}]*)\\\}", lambda m: "(" + m.group(1).replace(",", "|") + ")", regex)
            regex = regex.replace("…", ".*")
            if path.endswith("/"):
                regex += ".*"
            patterns.append(re.compile(f"^{regex}$"))
    return patterns


@pytest.fixture(scope="module")
def outputs(demo_run):
    """Every output file of the finished demo run (with predictions), below results_dir."""
    listing = run_snakemake(demo_run, "--summary").stdout
    paths = [line.split("\t")[0] for line in listing.splitlines()[1:] if line.strip()]
    return sorted({p.removeprefix("results/") for p in paths if p.startswith("results/")})


def test_the_outputs_table_covers_every_output_of_a_run(outputs, demo_run):
    patterns = outputs_table_patterns()
    assert len(outputs) > 30
    results = demo_run / "results"

    def shown(path: str) -> str:  # a folder output is listed by what it holds
        folder = results / path
        if folder.is_dir():
            inside = sorted(p for p in folder.rglob("*") if not p.is_dir() and not p.name.startswith("."))
            return str(inside[0].relative_to(results)) if inside else path + "/"
        return path

    missing = [p for p in outputs if not any(rx.match(shown(p)) for rx in patterns)]
    assert missing == [], "outputs that README's Outputs table does not list"
