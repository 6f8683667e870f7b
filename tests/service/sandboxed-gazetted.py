#!/usr/bin/env python3
"""gazetted ARGS..., run by systemd as a transient service with the
[Service] sandbox of the system unit: a stand-in for the gazetted binary
that test-integration-sandboxed.py hands to the daemon's integration tests
(GAZETTED=this). It forwards SIGTERM, SIGINT and SIGHUP to the service's
main process and exits with its exit status, so that a test sees what it
would see of gazetted itself.

Taken from the unit (GAZETTE_SANDBOX_UNIT): every [Service] setting but
these, which depend on how the service is started rather than on what it
may do: Type= (exec: the tests also run --once, which never sends
READY=1), ExecStart=, ExecReload=, Restart*=, User=, Group= (the tests'
files belong to root: the daemon runs as root, but with no capability at
all and in a user namespace of its own), *Directory= and *DirectoryMode=
(the tests give the daemon its paths: their temporary directory,
GAZETTE_SANDBOX_RW, is made writable in their place).

Environment: GAZETTED_REAL (the program), GAZETTE_SANDBOX_UNIT,
GAZETTE_SANDBOX_RW, XDG_RUNTIME_DIR (of the private manager)."""

import os
import signal
import subprocess
import sys
import uuid

SKIP_KEYS = ("Type", "ExecStart", "ExecReload", "Restart", "RestartSec",
             "User", "Group", "StateDirectory", "StateDirectoryMode",
             "RuntimeDirectory", "RuntimeDirectoryMode",
             "ConfigurationDirectory", "ConfigurationDirectoryMode")
# The environment of the caller that the daemon gets.
PASS_ENV = ("HOME", "LANG", "LC_ALL", "NOTIFY_SOCKET", "XDG_CONFIG_HOME",
            "XDG_DATA_HOME", "TZ",
            "ASAN_OPTIONS", "UBSAN_OPTIONS")


def unit_properties(path):
    """The [Service] settings of a unit file, as KEY=VALUE strings."""
    props, section = [], None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            key = line.split("=", 1)[0]
            if section == "[Service]" and key not in SKIP_KEYS:
                props.append(line)
    return props


def main():
    real = os.environ["GAZETTED_REAL"]
    unit = "gazetted-sandboxed-%s.service" % uuid.uuid4().hex[:12]
    cmd = ["systemd-run", "--user", "--quiet", "--wait", "--pipe",
           "--collect", "--same-dir", "--unit=" + unit, "-p", "Type=exec",
           "-p", "ReadWritePaths=" + os.environ["GAZETTE_SANDBOX_RW"]]
    for p in unit_properties(os.environ["GAZETTE_SANDBOX_UNIT"]):
        cmd += ["-p", p]
    for k in PASS_ENV:
        if k in os.environ:
            cmd += ["-E", "%s=%s" % (k, os.environ[k])]
    cmd += ["--", real] + sys.argv[1:]
    run = subprocess.Popen(cmd)

    def forward(sig, _frame):
        subprocess.run(["systemctl", "--user", "kill", "--kill-who=main",
                        "--signal=%d" % sig, unit], check=False,
                       stderr=subprocess.DEVNULL)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    while True:
        try:
            return run.wait()
        except InterruptedError:
            continue


if __name__ == "__main__":
    sys.exit(main())
