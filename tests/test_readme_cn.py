"""README_cn.md, the camp's template in Chinese: its sections, its links both ways, and
commands that name only files and options that exist, so that it cannot quietly rot."""
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from ppugatit.reprod_kit import CHECKS

SECTIONS = ["1. 简介", "2. 数据集和复现精度", "3. 准备数据与环境", "4. 开始使用", "5. 模型推理部署",
            "6. 自动化测试脚本", "7. LICENSE", "8. 参考链接与文献"]


def read(name: str) -> str:
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def test_sections_follow_the_camp_template():
    headings = re.findall(r"^## (.+)$", read("README_cn.md"), flags=re.M)
    assert headings[1:] == SECTIONS  # after the table of contents
    assert os.path.isfile(os.path.join(ROOT, "LICENSE"))


def test_linked_both_ways_on_the_first_screen():
    assert "(README_cn.md)" in "\n".join(read("README.md").splitlines()[:5])
    assert "(README.md)" in "\n".join(read("README_cn.md").splitlines()[:5])


@pytest.mark.slow
def test_paths_and_options_exist():
    text = read("README_cn.md")
    paths = set(re.findall(r"(?<![\w/])((?:tools|configs|docs|notebooks|test_tipc|deploy)/[\w./-]+\.\w+)",
                           text))
    assert paths and not [p for p in paths if not os.path.isfile(os.path.join(ROOT, p))]
    options: dict[str, set] = {}
    for tool, args in re.findall(r"python (tools/\w+\.py|deploy/python/infer\.py)((?:.*\\\n)*.*)",
                                 text):
        options.setdefault(tool, set()).update(
            re.findall(r"(?<![\w-])(--[a-z][\w-]*|-[co])(?![\w-])", args))
    assert len(options) >= 7
    for tool, used in options.items():  # each tool's own parser, as a user's shell would see it
        helped = subprocess.run([sys.executable, os.path.join(ROOT, tool), "--help"], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        assert helped.returncode == 0, helped.stderr
        known = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", helped.stdout))
        assert used <= known, f"{tool}: no option {sorted(used - known)}"


def test_the_kit_listing_is_what_the_kit_writes():
    listed = set(re.findall(r"\b(\w+_(?:paddle|torch|benchmark)\.npy|\w+_diff\.log)", read("README_cn.md")))
    written = {f"{c}_{s}" for c in CHECKS
               for s in ("paddle.npy", "benchmark.npy" if c == "train_align" else "torch.npy",
                         "diff.log")}
    assert listed == written
