"""Shell completion for ``kubectl edge <TAB>`` and ``kubectl edge completion install``.

kubectl (>= 1.26) completes a plugin's arguments by running an executable named ``kubectl_complete-edge``
found on PATH: it passes the words typed after ``kubectl edge`` plus the word being completed (empty after
a space), reads one candidate per line (``value<TAB>description`` allowed) and an optional last line
``:<directive>`` (Cobra's ShellCompDirective). :func:`main` is that executable (a console script in the
wheel; a name the frozen krew binary answers to). The candidates come from the click command tree typer
builds, so they follow the commands as they change; no cluster is contacted and nothing heavy is imported.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from kubectl_edge.cli.commands._common import group, write_atomically
from kubectl_edge.cli.options import VALUE_FLAGS

#: The name kubectl looks for on PATH to complete ``kubectl edge``.
HELPER_NAME = "kubectl_complete-edge"
PLUGIN_NAME = "kubectl-edge"

# Cobra's ShellCompDirective bits (spf13/cobra completions.go).
DIRECTIVE_DEFAULT = 0  # the shell may complete file names
DIRECTIVE_ERROR = 1
DIRECTIVE_NO_FILE = 4
DIRECTIVE_DIRS_ONLY = 16

# kubectl's global flags that kubectl-edge accepts anywhere, with how their value is completed.
_GLOBAL_FLAGS: dict[str, str] = {flag: "file" if name == "kubeconfig" else "text"
                                 for flag, name in VALUE_FLAGS.items()}
_HELP_FLAGS = ("-h", "--help")
# An optional literal word shown in usage as ``[edge-apps]``.
_LITERAL_METAVAR = re.compile(r"^\[([a-z][a-z0-9-]*)\]$")


@dataclass(frozen=True)
class Completion:
    """What to tell kubectl: the candidates (``value`` or ``value<TAB>description``) and a directive."""

    candidates: tuple[str, ...]
    directive: int

    def render(self) -> str:
        """The helper's stdout: one candidate per line, then ``:<directive>``."""
        return "".join(f"{line}\n" for line in (*self.candidates, f":{self.directive}"))


def _command_tree() -> Any:
    from typer.main import get_command

    from kubectl_edge.cli.app import build_app

    return get_command(build_app(every_command=True))


# The tree is read by duck typing: typer >= 0.28 carries its own copy of click, so isinstance checks against
# the click package would fail, and importing it would only cost time.
def _subcommands(command: Any) -> dict[str, Any] | None:
    commands = getattr(command, "commands", None)
    return commands if isinstance(commands, dict) else None


def _options(command: Any) -> list[Any]:
    return [parameter for parameter in command.params if parameter.param_type_name == "option"]


def _arguments(command: Any) -> list[Any]:
    return [parameter for parameter in command.params if parameter.param_type_name == "argument"]


def _option_for(command: Any, flag: str) -> Any | None:
    for option in _options(command):
        if flag in (*option.opts, *option.secondary_opts):
            return option
    return None


def _takes_value(option: Any) -> bool:
    return not option.is_flag and not option.count


def _value_kind(parameter: Any) -> str:
    """``choice``, ``file``, ``dir`` or ``text``: how the value of an option or argument is completed."""
    type_name = getattr(parameter.type, "name", "")
    metavar = (parameter.metavar or "").upper()
    if type_name == "choice":
        return "choice"
    if type_name in ("path", "directory", "file"):
        if getattr(parameter.type, "dir_okay", False) and not getattr(parameter.type, "file_okay", True):
            return "dir"
        return "dir" if "DIR" in metavar else "file"
    if "FILE" in metavar or "PATH" in metavar:
        return "file"
    if "DIR" in metavar:
        return "dir"
    return "text"


def _complete_value(parameter: Any | None, kind: str, incomplete: str, prefix: str = "") -> Completion:
    if kind == "choice" and parameter is not None:
        values = [str(getattr(choice, "value", choice)) for choice in parameter.type.choices]
        return Completion(tuple(prefix + value for value in values if value.startswith(incomplete)), DIRECTIVE_NO_FILE)
    if kind == "text" and parameter is not None:
        # A value with its own completion (typer's autocompletion=, as token list's -o); no context is needed.
        offered = parameter.shell_complete(None, incomplete)
        return Completion(tuple(prefix + item.value for item in offered), DIRECTIVE_NO_FILE)
    if kind == "file":
        return Completion((), DIRECTIVE_DEFAULT)
    if kind == "dir":
        return Completion((), DIRECTIVE_DIRS_ONLY)
    return Completion((), DIRECTIVE_NO_FILE)


def _flag_candidates(command: Any, incomplete: str) -> Completion:
    entries: list[str] = []
    for option in _options(command):
        if option.hidden:
            continue
        description = (option.help or "").split("\n")[0]
        for name in (*option.opts, *option.secondary_opts):
            entries.append(f"{name}\t{description}" if description else name)
    entries.extend(_HELP_FLAGS)
    entries.extend(_GLOBAL_FLAGS)
    seen: set[str] = set()
    chosen = []
    for entry in entries:
        name = entry.split("\t")[0]
        if name.startswith(incomplete) and name not in seen:
            seen.add(name)
            chosen.append(entry)
    return Completion(tuple(chosen), DIRECTIVE_NO_FILE)


def _subcommand_candidates(commands: dict[str, Any], incomplete: str) -> Completion:
    entries = []
    for name in sorted(commands):
        sub = commands[name]
        if sub.hidden or not name.startswith(incomplete):
            continue
        description = sub.get_short_help_str(limit=60)
        entries.append(f"{name}\t{description}" if description else name)
    return Completion(tuple(entries), DIRECTIVE_NO_FILE)


def _argument_candidates(command: Any, position: int, incomplete: str) -> Completion:
    index = 0
    for argument in _arguments(command):
        # An argument that takes any number of values (nargs=-1) absorbs every later position.
        if argument.nargs == -1 or position < index + argument.nargs:
            literal = _LITERAL_METAVAR.match(argument.metavar or "")
            if literal:
                word = literal.group(1)
                return Completion((word,) if word.startswith(incomplete) else (), DIRECTIVE_NO_FILE)
            return _complete_value(argument, _value_kind(argument), incomplete)
        index += argument.nargs
    return Completion((), DIRECTIVE_NO_FILE)


def complete(words: Sequence[str]) -> Completion:
    """The candidates for the last of ``words`` (the words after ``kubectl edge``; the last may be empty)."""
    typed, incomplete = list(words[:-1]), (words[-1] if words else "")
    command = _command_tree()
    position = 0
    pending: tuple[Any | None, str] | None = None  # an option still waiting for its value, and its kind
    after_dashes = False
    for word in typed:
        if pending is not None:
            pending = None
            continue
        if after_dashes or not word.startswith("-") or word == "-":
            commands = _subcommands(command)
            if not after_dashes and commands is not None and word in commands:
                command = commands[word]
                position = 0
            else:
                position += 1
            continue
        if word == "--":
            after_dashes = True
            continue
        flag, has_value = word.split("=", 1)[0], "=" in word
        option = _option_for(command, flag)
        if option is not None and _takes_value(option) and not has_value:
            pending = (option, _value_kind(option))
        elif option is None and flag in _GLOBAL_FLAGS and not has_value:
            pending = (None, _GLOBAL_FLAGS[flag])
    if pending is not None:
        return _complete_value(pending[0], pending[1], incomplete)
    if incomplete.startswith("-") and not after_dashes:
        flag, equals, value = incomplete.partition("=")
        if equals:
            option = _option_for(command, flag)
            if option is not None and _takes_value(option):
                return _complete_value(option, _value_kind(option), value, prefix=f"{flag}=")
            return _complete_value(None, _GLOBAL_FLAGS.get(flag, "text"), value, prefix=f"{flag}=")
        return _flag_candidates(command, incomplete)
    commands = _subcommands(command)
    if commands is not None and not after_dashes:
        return _subcommand_candidates(commands, incomplete)
    return _argument_candidates(command, position, incomplete)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``kubectl_complete-edge``: print candidates in the protocol kubectl reads."""
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        result = complete(words or [""])
    except Exception:  # completion must never print a traceback into the user's shell
        result = Completion((), DIRECTIVE_ERROR)
    sys.stdout.write(result.render())
    sys.stdout.flush()
    sys.exit(0)


# --- kubectl edge completion install --------------------------------------------------------------------

app = group("completion", "kubectl edge completion install: let kubectl complete 'kubectl edge <TAB>'.")


def _plugin_dir() -> Path | None:
    """The directory of the kubectl-edge that runs (as kubectl found it on PATH, symlinks not followed)."""
    import shutil

    invoked = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if invoked is not None and invoked.name == PLUGIN_NAME and invoked.parent.is_dir():
        return invoked.absolute().parent
    found = shutil.which(PLUGIN_NAME)
    return Path(found).absolute().parent if found else None


def helper_script() -> str:
    """The helper written for an installation from a wheel: this interpreter running :func:`main`."""
    return (f"#!{sys.executable}\n"
            "# kubectl-edge's shell completion helper: kubectl runs it for 'kubectl edge <TAB>'.\n"
            "from kubectl_edge.cli.commands.completion import main\n"
            "main()\n")


def _is_ours(path: Path) -> bool:
    """Whether an existing helper is one kubectl-edge made (or the wheel's console script)."""
    try:
        if path.is_symlink():
            # A link to a kubectl-edge executable, even a dangling one (a krew upgrade removed its target).
            return Path(os.readlink(path)).name == PLUGIN_NAME or Path(os.path.realpath(path)).name == PLUGIN_NAME
        return b"kubectl_edge.cli.commands.completion" in path.read_bytes()[:4096]
    except OSError:
        return False


def _frozen_link_target(target_dir: Path) -> str:
    """What the helper links to in a frozen build: the kubectl-edge kubectl runs, relative when beside it.

    Linking to krew's own ``bin/kubectl-edge`` link rather than to the versioned file behind it keeps
    the helper working across ``kubectl krew upgrade``.
    """
    invoked = Path(sys.argv[0]).absolute() if sys.argv and sys.argv[0] else None
    if invoked is not None and invoked.name == PLUGIN_NAME and invoked.exists():
        return PLUGIN_NAME if invoked.parent == target_dir.absolute() else str(invoked)
    return os.path.realpath(sys.executable)


@app.command("install")
def install(
    directory: Annotated[Path | None, typer.Option(
        "--dir", metavar="DIR", help="where to write kubectl_complete-edge (default: next to kubectl-edge)")] = None,
) -> None:
    """Write the kubectl_complete-edge helper that kubectl runs to complete 'kubectl edge <TAB>' (kubectl >= 1.26).

    Then enable kubectl's own completion in the shell (kubectl completion bash|zsh|fish --help).
    """
    from kubectl_edge.cli.ui import progress
    from kubectl_edge.errors import ConfigError, PreconditionFailed

    target_dir = directory or _plugin_dir()
    if target_dir is None:
        raise ConfigError("cannot tell where kubectl-edge is installed (it is not on PATH)",
                          "pass --dir with a directory on PATH")
    target = target_dir / HELPER_NAME
    if (target.exists() or target.is_symlink()) and not _is_ours(target):
        raise PreconditionFailed(f"{target} exists and is not kubectl-edge's completion helper",
                                 "remove it, or pass --dir with another directory on PATH")
    frozen = bool(getattr(sys, "frozen", False))
    hint = "pass --dir with a writable directory"
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror}", hint) from exc

    def stage(staged: Path) -> None:
        if frozen:
            # The frozen binary answers to this name itself (see hack/dist_entry.py).
            staged.symlink_to(_frozen_link_target(target_dir))
        else:
            staged.write_text(helper_script())
            staged.chmod(0o755)

    write_atomically(target, stage, hint)
    progress("completion", f"wrote {target}")
    on_path = any(Path(entry).absolute() == target_dir.absolute()
                  for entry in os.environ.get("PATH", "").split(os.pathsep) if entry)
    if not on_path:
        progress("completion", f"warning: {target_dir} is not on PATH; kubectl looks for {HELPER_NAME} there")
    progress("completion", "kubectl completes 'kubectl edge <TAB>' once kubectl's own shell completion is on "
                           "(e.g. source <(kubectl completion bash))")
