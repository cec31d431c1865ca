"""Parameter checks shared by the RTL components and the host side."""

__all__ = ["check_int"]


def check_int(value, lo, hi, what):
    """``value`` if it is an integer (not a bool) in ``lo..hi``; otherwise ``ValueError``:
    ``"<what> must be an integer between <lo> and <hi>, not <value!r>"``."""
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError(f"{what} must be an integer between {lo} and {hi}, not {value!r}")
    return value
