"""Every option of every subcommand says in a sentence what it does (issue 16, item 4)."""

from __future__ import annotations

import argparse

from litedepth.cli.main import build_parser


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_option_of_every_subcommand_has_help():
    commands = _subcommands()
    assert {"predict", "evaluate", "export", "serve", "assist", "demo", "profile", "weights", "distill"} <= set(commands)
    missing = []
    for name, parser in commands.items():
        if name == "train":  # jsonargparse: its summary is tested in test_cli.py
            continue
        stack = [(name, parser)]
        while stack:
            where, p = stack.pop()
            for action in p._actions:
                if isinstance(action, argparse._HelpAction):
                    continue
                if isinstance(action, argparse._SubParsersAction):
                    stack += [(f"{where} {n}", sp) for n, sp in action.choices.items()]
                    continue
                text = (action.help or "").strip()
                if action.help == argparse.SUPPRESS:
                    continue
                if len(text.split()) < 3:  # a sentence, not a blank or a single word
                    missing.append(f"{where} {'/'.join(action.option_strings) or action.dest}: {text!r}")
    assert not missing, "options without a sentence of help:\n" + "\n".join(missing)


def test_top_level_help_says_predict_does_more_than_images(capsys):
    import pytest

    from litedepth.cli.main import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    line = out[out.index("predict depth"):][:200]
    assert "video" in line and ("point cloud" in line or "pointcloud" in line), line
