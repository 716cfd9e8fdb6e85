"""README.md and docs/: a short README that links the docs, every path and relative link they
name exists, docs/README.md lists every doc, and the README's test command is what CI runs."""
import glob
import os
import re

from conftest import ROOT

TEST_COMMAND = "python -m pytest -q"
PREFIXES = ("tools", "configs", "docs", "research", "deploy", "notebooks", "test_tipc", "ppugatit",
            "tests")
PATH = re.compile(r"(?<![\w/.-])((?:%s)/[\w./-]*\w\.\w+)" % "|".join(PREFIXES))
LINK = re.compile(r"\]\(([^)\s]+)\)")


def read(name: str) -> str:
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def markdown_files() -> list[str]:
    docs = sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
    return ["README.md"] + docs


def test_readme_is_short_and_links_the_docs():
    text = read("README.md")
    assert len(text.splitlines()) <= 170
    assert "](docs/README.md)" in text


def test_named_paths_exist():
    missing = []
    for name in markdown_files():
        for path in sorted(set(PATH.findall(read(name)))):
            if not os.path.exists(os.path.join(ROOT, path)):
                missing.append(f"{name}: {path}")
    assert not missing, missing


def test_relative_links_resolve():
    broken = []
    for name in markdown_files():
        prose = re.sub(r"^```.*?^```", "", read(name), flags=re.M | re.S)  # code is not links
        for target in sorted(set(LINK.findall(prose))):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # http(s), mailto; anchors within the file
            path = target.split("#")[0]
            if not os.path.isfile(os.path.join(ROOT, os.path.dirname(name), path)):
                broken.append(f"{name}: {target}")
    assert not broken, broken


def test_docs_index_lists_every_doc():
    index = read(os.path.join("docs", "README.md"))
    listed = set(LINK.findall(index))
    docs = {os.path.basename(p) for p in markdown_files()[1:]} - {"README.md"}
    assert docs and not sorted(d for d in docs if d not in listed)


def test_readme_test_command_is_what_ci_runs():
    assert f"```bash\n{TEST_COMMAND}\n```" in read("README.md")
    lines = [line.strip() for line in read(os.path.join(".ci", "run")).splitlines() if line.strip()]
    assert lines[-1] == TEST_COMMAND
