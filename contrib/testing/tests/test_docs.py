"""docs/testing.md's example works, and fails the way the page says when broken."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from omniwire_testing.oracles import repo_root

DOC = repo_root() / "docs" / "testing.md"


def example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    found = [b for b in blocks if b.startswith("# test_acme.py")]
    if not found:
        pytest.fail("docs/testing.md lost its '# test_acme.py' example")
    return found[0]


def test_the_example_is_short():
    assert len(example().strip().splitlines()) < 20


def test_the_example_runs_and_the_broken_variant_fails_as_documented(tmp_path):
    code = example()
    broken = code.replace(
        '            conv.lose("$.top_k", "acme has no top_k")  # ...and says so\n',
        "            pass\n",
    )
    assert broken != code
    (tmp_path / "test_acme.py").write_text(code)
    (tmp_path / "test_acme_broken.py").write_text(broken)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         "--omniwire-profile", "fast", str(tmp_path / "test_acme.py"),
         str(tmp_path / "test_acme_broken.py") + "::TestAcmeChat::test_request_losses_reported"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert "1 failed, 9 passed" in out.stdout, out.stdout[-3000:]
    assert "test_acme_broken.py::TestAcmeChat::test_request_losses_reported" in out.stdout
    assert "acme.chat.encode_request dropped $.top_k silently" in out.stdout
