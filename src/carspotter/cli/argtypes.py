"""What the ``carspotter`` sub-parsers share (:mod:`carspotter.cli.parser`, :mod:`carspotter.cli.stage_parsers`): the
integer argument type and the defaults of dataclass fields."""

from __future__ import annotations

import argparse
from dataclasses import fields


def integer(name):
    def parse(text):
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} {text!r}: not an integer") from None

    return parse


def field_default(cls, name: str):
    """The default of dataclass ``cls``'s field ``name``."""
    return next(f.default for f in fields(cls) if f.name == name)
