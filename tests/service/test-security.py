#!/usr/bin/env python3
"""`systemd-analyze security --offline=yes --threshold=20` passes for the
system unit: its overall exposure is 2.0 or lower ("OK")."""

import os
import re
import sys

import common


def main():
    analyze = common.need("systemd-analyze")
    unit = os.path.join(common.BUILD_ROOT, "systemd", "gazetted.service")
    if not os.path.isfile(unit):
        common.fail(unit + " was not generated")
    cmd = [analyze, "security", "--offline=yes", "--threshold=20", unit]
    r = common.run(cmd)
    print(r.stdout)
    m = re.search(r"Overall exposure level for gazetted\.service: "
                  r"([0-9]+\.[0-9]+) (\S+)", r.stdout)
    if m is None:
        common.fail("no overall exposure level in the output:\n" + r.stderr)
    level, rating = float(m.group(1)), m.group(2)
    print("exposure %.1f %s (exit %d)" % (level, rating, r.returncode))
    if r.returncode != 0 or level > 2.0 or rating != "OK":
        common.fail("exposure %.1f %s, exit %d: want 2.0 or lower, OK\n%s"
                    % (level, rating, r.returncode, r.stderr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
