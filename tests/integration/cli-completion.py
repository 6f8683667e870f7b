#!/usr/bin/env python3
"""gazette's bash completion (cli/gazette.bash-completion) in a real
bash with bash-completion loaded: commands, options, sub-commands and
feed names from the database."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import GAZETTE, check, data, run_tests  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                      "..", "cli", "gazette.bash-completion")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


def complete(env, *words):
    """What completing the last of words offers."""
    prog = r'''
source "$1"; source "$2"; shift 2
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_gazette gazette "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
printf '%s\n' "${COMPREPLY[@]}"
'''
    e = dict(env.env)
    e["PATH"] = os.path.dirname(os.path.abspath(GAZETTE)) + ":" + e["PATH"]
    p = subprocess.run(["bash", "-c", prog, "bash", BASH_COMPLETION, SCRIPT,
                        "gazette"] + list(words), capture_output=True,
                       text=True, env=e, timeout=30)
    check(p.returncode == 0, "completion runs: %r" % (words,), p.stderr)
    return sorted(p.stdout.split())


def test_commands_and_global_options_complete(env):
    check("list" in complete(env, "") and "export" in complete(env, ""),
          "every command offered")
    check(complete(env, "ma") == ["mark"], "a prefix completes")
    check(complete(env, "--d") == ["--db"], "global options complete")


def test_command_options_and_subcommands_complete(env):
    check(complete(env, "list", "--ne") == ["--new"], "list --new")
    check("--peek" in complete(env, "list", "--"), "list options")
    check(complete(env, "export", "") ==
          ["atom", "csv", "html", "json", "opml"], "export formats")
    check(complete(env, "mark", "") == ["read", "star", "unread", "unstar"],
          "mark kinds")
    check(complete(env, "mirror", "") == ["accept", "add", "remove"], "mirror verbs")
    check(complete(env, "add", "--mi") == ["--mirror"], "add options")


def test_feeds_complete_from_the_database(env):
    env.run("import", data("subs.opml"))
    check(complete(env, "--db", env.db, "remove", "") == ["1", "2", "3"],
          "feed ids offered for remove")
    check(complete(env, "--db", env.db, "list", "--feed", "") ==
          ["1", "2", "3"], "feed ids offered for --feed")


run_tests([
    test_commands_and_global_options_complete,
    test_command_options_and_subcommands_complete,
    test_feeds_complete_from_the_database,
])
