"""Browser tests: the pipeline kit of tests/interop (the services as processes) is imported as `pipelinekit`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))
