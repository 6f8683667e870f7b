#!/usr/bin/env python3
"""The 500-kill crash soak (issue 7, item 4), not run by CI: the test
tests/hostile/crash_safety.py with CRASH_KILLS=500 (or the first
argument). Usage: bench/crash-soak.py [KILLS] [SEED], with GAZETTED and
GAZETTE naming the binaries (default: build/daemon/gazetted and
build/cli/gazette)."""

import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
env = dict(os.environ)
env.setdefault("GAZETTED", os.path.join(here, "..", "build", "daemon",
                                        "gazetted"))
env.setdefault("GAZETTE", os.path.join(here, "..", "build", "cli",
                                       "gazette"))
env["CRASH_KILLS"] = sys.argv[1] if len(sys.argv) > 1 else "500"
if len(sys.argv) > 2:
    env["CRASH_SEED"] = sys.argv[2]
sys.exit(subprocess.call([sys.executable, os.path.join(
    here, "..", "tests", "hostile", "crash_safety.py")], env=env))
