"""``python -m litedepth`` runs the command-line interface."""

from litedepth.cli.main import entry

if __name__ == "__main__":
    entry()
