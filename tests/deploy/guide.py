"""docs/operations.md as a list of commands, and how each kind of command is checked.

Every line of a ```sh block is one command (a trailing backslash continues it, and a
heredoc runs to its closing word). A command is

- ``pod``: ``kubectl … exec … -- INNER``, whose INNER part is what runs inside the pod
  (the tests run it here, against a live server and its database);
- ``local``: ``curl``, ``head``, ``openssl``, ``cp``: run here as written;
- ``kubectl``: any other kubectl command, checked against the rendered manifests;
- ``compose`` and ``docker``: checked against deploy/compose.yaml and deploy/docker;
- ``shell``: the few remaining shell steps (``cd``), checked for what they name.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

LOCAL_PROGRAMS = {"curl", "head", "openssl", "cp"}
POD_PROGRAMS = {"aragora", "python", "psql", "pg_dump", "dropdb", "createdb", "redis-cli"}


@dataclass(frozen=True)
class Command:
    text: str
    kind: str

    @property
    def inner(self) -> str:
        """The part of a ``kubectl exec … --`` command that runs in the pod, with the
        shell redirections that follow it."""
        assert self.kind == "pod", self.text
        return self.text.split(" -- ", 1)[1]

    @property
    def words(self) -> list[str]:
        """The command's words before any pipe, redirection or heredoc (for
        `NAME="$(kubectl …)"`, those of the kubectl command)."""
        head = self.text.split("<<", 1)[0].replace("\\\n", " ")
        assignment = re.fullmatch(r'(?:export\s+)?[A-Z_]+="\$\((.*)\)"', head.strip())
        if assignment:
            head = assignment.group(1)
        lexer = shlex.shlex(head, posix=True, punctuation_chars="|<>")
        lexer.whitespace_split = True
        words = []
        for word in lexer:
            if word and set(word) <= set("|<>"):
                break
            words.append(word)
        return words


def commands(markdown: str) -> list[Command]:
    """Every command of the ```sh blocks of ``markdown``, classified."""
    found = []
    for block in re.findall(r"^```sh\n(.*?)^```", markdown, re.S | re.M):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            text = line
            while text.endswith("\\") and i < len(lines):
                text += "\n" + lines[i]
                i += 1
            heredoc = re.search(r"<<'(\w+)'", text)
            if heredoc:
                while i < len(lines) and lines[i] != heredoc.group(1):
                    text += "\n" + lines[i]
                    i += 1
                text += "\n" + lines[i]
                i += 1
            found.append(Command(text, classify(text)))
    return found


def classify(text: str) -> str:
    program = _program(text)
    if program == "kubectl":
        if re.search(r"\sexec\s.*\s--\s", text.split("\n")[0]):
            if " exec backup-reader " in text:
                return "kubectl"  # the pod the guide starts to read the backup volume
            inner = text.split(" -- ", 1)[1]
            assert shlex.split(inner)[0] in POD_PROGRAMS, f"unknown program in the pod: {text}"
            return "pod"
        return "kubectl"
    if program == "docker":
        return "compose" if text.startswith("docker compose ") else "docker"
    if program in LOCAL_PROGRAMS:
        return "local"
    if program == "cd":
        return "shell"
    raise AssertionError(f"docs/operations.md: no test knows how to check {text!r}")


def _program(text: str) -> str:
    # `export NAME="$(kubectl …)"` and `NAME="$(kubectl …)"` are kubectl commands.
    assignment = re.match(r'(?:export\s+)?[A-Z_]+="\$\((\w+)', text)
    if assignment:
        return assignment.group(1)
    return text.split()[0]
