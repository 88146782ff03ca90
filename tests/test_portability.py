"""The suite passes on every CPU kind langmix has met, not only on the one it was written on.

The main run sees one kind (``$LANGMIX_TEST_CPU``, default ``amx``: ``precision: auto`` means bf16 there).
Here the tests whose numbers depend on what ``auto`` resolves to run again, in a fresh pytest process, as each
other kind: an AMD EPYC with AVX512-BF16 only and a Xeon without native bf16 (auto = fp32 on both). A test
that compares the default precision with an fp32 reference, or an in-process run with a subprocess run, fails
here on the kind it was not written on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRECISION_DEPENDENT = [
    "tests/model/test_encoding.py",
    "tests/test_precision.py",
    "tests/search/test_index.py::test_build_writes_a_complete_index",
    "tests/training/test_training_kill_resume.py",
]


@pytest.mark.parametrize("kind", sorted({"amx", "avx512_bf16", "none"} - {os.environ.get("LANGMIX_TEST_CPU", "amx")}))
def test_precision_dependent_tests_pass_on_every_cpu_kind(kind):
    env = {**os.environ, "LANGMIX_TEST_CPU": kind}
    env.pop("LANGMIX_CPU_BF16", None)  # the child's conftest sets it from LANGMIX_TEST_CPU
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", *PRECISION_DEPENDENT],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"as a CPU with {kind}:\n{done.stdout[-3000:]}{done.stderr[-2000:]}"
