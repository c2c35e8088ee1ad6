"""What to do about a self-check that disagrees: advice that fixes what was found, finding by finding.

- fills the exchange lists and perpvol lacks: the next ``perpvol sync`` reads the disagreeing windows again
  and stores them (``verify.repair``), then ``perpvol verify`` confirms;
- fills perpvol holds that the exchange does not list (any more), or holds with other values: perpvol never
  deletes or overwrites a stored fill by itself, and a sync does not change them; reading the account again
  from scratch does (``perpvol keys remove``, ``perpvol keys add``, ``perpvol sync``), so that is the advice.
"""

from __future__ import annotations


def advice(counts: dict[str, int], label: str) -> str:
    """The steps for ``counts`` (``missing``, ``extra``, ``changed``) of the account ``label``."""
    steps = []
    if counts.get("missing"):
        steps.append(f"`perpvol sync --label {label}` reads those days again and stores the missing fills, "
                     f"then `perpvol verify --label {label}` confirms")  # fmt: skip
    if counts.get("extra") or counts.get("changed"):
        what = " and ".join(
            text for key, text in (("extra", "fills the exchange no longer lists"),
                                   ("changed", "fills whose stored values differ")) if counts.get(key)
        )  # fmt: skip
        steps.append(
            f"a sync never deletes or overwrites stored fills, so {what} stay until the account is read again "
            f"from scratch: `perpvol keys remove {label}`, `perpvol keys add …` with the same key, "
            f"`perpvol sync --label {label}`"
        )
    return "; ".join(steps) if steps else f"`perpvol verify --label {label}` checks again"
