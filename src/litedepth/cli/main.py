"""``litedepth`` command-line entry point: one subcommand per module in this package.

User errors (:class:`litedepth.errors.LitedepthError`) are printed as one line naming the
file and the problem, with exit status 2 and no traceback. So are operating-system errors
about a named file (disk full, read-only file system, permission denied, a file where a
folder should be): they come from the user's environment, not from a bug. ``-v`` adds the
traceback of such errors to the debug log.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys
from collections.abc import Sequence

from litedepth import __version__
from litedepth.errors import LitedepthError

log = logging.getLogger("litedepth")

#: subcommand -> module under litedepth.cli exposing add_parser(subparsers) and run(args)
SUBCOMMANDS = {
    "train": "train",
    "evaluate": "evaluate",
    "evaluate-pose": "evaluate_pose",
    "predict": "predict",
    "kitti-gt": "kitti_gt",
    "demo": "demo",
    "models": "models",
    "profile": "profile",
    "export": "export",
    "pseudo-label": "pseudo_label",
    "distill": "distill",
    "assist": "assist",
    "serve": "serve",
    "weights": "weights",
}


def _user_message(exc: BaseException) -> str:
    """One readable line; errors re-raised from DataLoader workers carry a traceback text."""
    text = str(exc)
    if "Traceback" in text:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        text = lines[-1] if lines else text
        for prefix in ("litedepth.errors.DataError: ", "litedepth.errors.CheckpointError: ",
                       "litedepth.errors.ConfigError: ", "DataError: "):
            text = text.removeprefix(prefix)
    return text


def _one_line(text: str) -> str:
    """``text`` on one line (a multi-line message from a library is joined with "; ")."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return "; ".join(lines) if lines else str(text).strip()


def _report(exc: BaseException) -> None:
    sys.stderr.write(f"litedepth: error: {_one_line(_user_message(exc))}\n")


def _os_message(exc: OSError) -> str | None:
    """One line for an OSError about a named file (or a full / read-only disk), else ``None``."""
    cause = exc.strerror or type(exc).__name__
    if exc.filename is not None:
        other = f" -> {exc.filename2}" if getattr(exc, "filename2", None) is not None else ""
        return f"{exc.filename}{other}: {cause}"
    if exc.errno in _WRITE_ERRNOS:
        return f"cannot write an output file: {cause}"
    return None


_WRITE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EFBIG}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="litedepth", description="Lightweight monocular depth estimation.")
    parser.add_argument("--version", action="version", version=f"litedepth {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in SUBCOMMANDS.items():
        mod = importlib.import_module(f"litedepth.cli.{module}")
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 user error)."""
    from litedepth.utils.logging import setup_logging

    argv = list(sys.argv[1:] if argv is None else argv)
    # `train` parses its own (jsonargparse) options: dispatch before argparse sees them.
    verbose = "-v" in argv[:1] or "--verbose" in argv[:1]
    if verbose:
        argv = argv[1:]
    setup_logging(verbose)
    try:
        if argv and argv[0] == "train":
            from litedepth.cli import train

            return train.main(argv[1:])
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 1
        return int(args._run(args) or 0)
    except LitedepthError as exc:
        _report(exc)
        return 2
    except OSError as exc:
        message = _os_message(exc)
        if message is None:
            raise
        log.debug("operating-system error", exc_info=True)
        sys.stderr.write(f"litedepth: error: {_one_line(message)}\n")
        return 2
    except RuntimeError as exc:
        # DataLoader workers re-raise user errors as RuntimeError when they cannot rebuild them.
        if "litedepth.errors" in str(exc) or "DataError" in str(exc):
            _report(exc)
            return 2
        raise
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
