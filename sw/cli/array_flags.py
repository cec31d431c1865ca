"""The array and PE flags every ``wafer`` command takes, generated from the parameter objects.

Each field of :class:`~wafer_engine.rtl.params.ArrayParams` and
:class:`~wafer_engine.rtl.params.PeParams` becomes one flag (``mem_words`` -> ``--mem-words``)
with the field's help text; a command only chooses its base configuration (the default array,
the training array, a board's build), whose values the help shows as the defaults. The flags
are turned into one validated object here, where the user's input arrives.
"""

from dataclasses import fields

from wafer_engine.rtl.params import ArrayParams, PeParams

__all__ = ["ARRAY_FIELDS", "add_array_flags", "given_array_flags", "array_params", "flag"]

#: Every flat parameter name, array fields first (``pe`` itself is not a flag).
ARRAY_FIELDS = tuple([f for f in fields(ArrayParams) if f.name != "pe"] + list(fields(PeParams)))


def flag(name):
    """The command-line flag of parameter ``name``: ``mem_words`` -> ``--mem-words``."""
    return "--" + name.replace("_", "-")


def add_array_flags(parser, base, *, note=""):
    """Add one flag per array and PE parameter to ``parser``; their defaults are ``base``'s
    (shown in the help; ``note`` is appended to each, e.g. "for --board the board's"). The
    parsed values are ``None`` when a flag is not given, so :func:`given_array_flags` can tell."""
    group = parser.add_argument_group("array and PE")
    values = base.flat()
    for f in ARRAY_FIELDS:
        extra = f"; {note}" if note else ""
        group.add_argument(flag(f.name), type=int, metavar="N", dest=f.name,
                           help=f"{f.metadata['help']} (default {values[f.name]}{extra})")


def given_array_flags(args):
    """The array and PE flags given on the command line, as ``["--rows", ...]``."""
    return [flag(f.name) for f in ARRAY_FIELDS if getattr(args, f.name, None) is not None]


def array_params(args, base):
    """The :class:`~wafer_engine.rtl.params.ArrayParams` of ``base`` with the flags given in
    ``args`` applied. Raises ``ValueError`` naming the flag and its value:
    ``"--rows 0: Row count must be an integer between 1 and 1024, not 0"``."""
    given = {}
    for f in ARRAY_FIELDS:
        value = getattr(args, f.name, None)
        if value is None:
            continue
        try:
            f.metadata["check"](value)
        except ValueError as exc:
            raise ValueError(f"{flag(f.name)} {value}: {exc}") from None
        given[f.name] = value
    return ArrayParams.build(base, **given)
