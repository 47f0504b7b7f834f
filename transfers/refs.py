"""Pseudonymous client references, and the refusal of anything that looks like a BSN."""

from __future__ import annotations

import re

from transfers.errors import InvalidValue

# Letters, digits and . _ - only: no spaces, so a full name cannot slip in as a reference.
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,39}$")


def passes_eleven_test(digits: str) -> bool:
    """The BSN 'elfproef': 9 digits, weights 9..2 and -1, sum divisible by 11."""
    if not (len(digits) == 9 and digits.isdigit()) or digits == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=False))
    return (total - int(digits[8])) % 11 == 0


def check_ref(ref: str) -> str:
    """Return the reference stripped and upper-cased (references are case-insensitive),
    or refuse it with the reason."""
    cleaned = ref.strip()
    if not _REF.match(cleaned):
        raise InvalidValue(
            f"reference '{ref}' is not valid: use 2-40 letters, digits, '.', '_' or '-' "
            "(a pseudonymous code, never a name)"
        )
    if passes_eleven_test(re.sub(r"[.\-_]", "", cleaned)):
        raise InvalidValue(
            f"reference '{ref}' looks like a BSN (it passes the eleven-test); "
            "store a pseudonymous reference, never a citizen service number"
        )
    return cleaned.upper()
