"""The command line's errors are in our words: the input named by its option, never pydantic's wording or a
traceback, and a usage error exits 2 before anything is saved. Runs over every registered venue and kind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from perpvol_cli.main import main
from perpvol_cli.venues import credential_options, input_fields, kinds, secret_fields
from perpvol_core.exchanges import VENUES

PYDANTIC_WORDS = re.compile(
    r"Value error|String should|Input should|Field required|validation error|Extra inputs|pydantic|Traceback",
    re.IGNORECASE,
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("PERPVOL_DATABASE_URL", "PERPVOL_MASTER_KEY", "PERPVOL_MASTER_KEY_FILE", "PERPVOL_REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PERPVOL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
         stdin: str = "") -> tuple[int, str]:  # fmt: skip
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    out = capsys.readouterr()
    text = out.out + out.err
    assert not PYDANTIC_WORDS.search(text), text
    return code, text


@pytest.mark.parametrize("venue", list(VENUES))
def test_label_and_url_errors_name_their_option(venue: str, capsys, monkeypatch, home: Path) -> None:  # noqa: ANN001
    code, text = _run(["keys", "add", venue, "--label", "../x", "--no-test"], capsys, monkeypatch)
    assert code == 2 and "A label is" in text and "(--label)" in text
    code, text = _run(["keys", "add", venue, "--label", "x", "--base-url", "ftp://x", "--no-test"], capsys, monkeypatch)
    assert code == 2 and "(--base-url)" in text
    assert not (home / "perpvol.db").exists()  # nothing was opened, nothing saved


@pytest.mark.parametrize(("venue", "kind"), [(v, m) for v in VENUES for m in kinds(v)],
                         ids=lambda p: p if isinstance(p, str) else str(p.model_fields["kind"].default))
def test_a_malformed_credential_field_is_named_by_its_option(venue: str, kind, capsys, monkeypatch) -> None:  # noqa: ANN001
    """Each field of each kind, given as text no credential is (whitespace inside): refused, exit 2, in the
    kind's own words with the option to fix."""
    flags = {o.field: o.flag for o in credential_options(venue)}
    secrets = secret_fields(kind)
    for field in input_fields(kind):
        argv = ["keys", "add", venue, "--label", "x", "--no-test"]
        stdin = ""
        for other in input_fields(kind):
            if other in secrets:
                if other == field or field not in secrets:  # the one secret on stdin: malformed or well-formed
                    argv.append(flags[other])
                    stdin = "two words" if other == field else "0x" + "cd" * 20
            else:
                argv += [flags[other], "two words" if other == field else "0x" + "ab" * 20]
        if len([f for f in input_fields(kind) if f in secrets]) > 1:
            continue  # stdin carries one secret; the others would be prompted for
        code, text = _run(argv, capsys, monkeypatch, stdin)
        assert code == 2, text
        assert flags[field] in text and "two words" not in text, text


def test_options_of_different_kinds_are_refused_in_our_words(capsys, monkeypatch) -> None:  # noqa: ANN001
    for venue in VENUES:
        models = kinds(venue)
        if len(models) < 2:
            continue
        only = [{f for f in input_fields(m)} - {f for o in models if o is not m for f in input_fields(o)}
                for m in models]  # fmt: skip
        if not all(only):
            continue
        flags = {o.field: o for o in credential_options(venue)}
        argv = ["keys", "add", venue, "--label", "x", "--no-test"]
        for fields in only[:2]:
            opt = flags[sorted(fields)[0]]
            argv += [opt.flag] if opt.secret else [opt.flag, "v"]
        code, text = _run(argv, capsys, monkeypatch, "s")
        assert code == 2 and "belong to different ones" in text, text


def test_a_secret_is_never_an_argument(capsys, monkeypatch) -> None:  # noqa: ANN001
    for venue in VENUES:
        for opt in credential_options(venue):
            if opt.secret:
                code, text = _run(["keys", "add", venue, "--label", "x", opt.flag.removesuffix("-stdin"), "s3cret"],
                                  capsys, monkeypatch)  # fmt: skip
                assert code == 2 and "s3cret" not in text
