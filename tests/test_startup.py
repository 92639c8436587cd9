"""Fast start: reading headers and importing the package load no torch (measured in
bench/bench_startup.py; this checks the imports in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GOLDEN_ROI = Path(__file__).resolve().parent / "golden" / "face-hyperprior-v2" / "q6-roi.nfc"
# Pillow is light (~50 ms) and loaded on purpose: importing neuralcodec registers .nfc with it.
HEAVY = ("torch", "numpy", "cv2", "compressai")


def _loaded_after(code: str) -> list[str]:
    # Modules set to None are hidden, not loaded (.ci/numpy2 hides CompressAI and Ray that way).
    loaded = "{m.split('.')[0] for m, v in sys.modules.items() if v is not None}"
    script = f"import sys\n{code}\nprint(sorted({loaded} & set({HEAVY!r})))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return eval(out.stdout.strip().splitlines()[-1])


def test_import_loads_nothing_heavy():
    assert _loaded_after("import neuralcodec; neuralcodec.available_qualities(); neuralcodec.FileInfo") == []


def test_inspect_imports_no_torch():
    data = f"open({str(GOLDEN_ROI)!r}, 'rb').read()"
    code = f"import neuralcodec; info = neuralcodec.inspect({data}); print(info.roi_pixels)"
    assert _loaded_after(code) == []


def test_nfc_info_imports_no_torch():
    code = f"from neuralcodec.cli.main import main; main(['info', {str(GOLDEN_ROI)!r}])"
    assert _loaded_after(code) == []
