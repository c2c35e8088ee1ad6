"""End-to-end `perpvol keys …`, `volume`, `export` as subprocesses on a temporary PERPVOL_HOME."""

from __future__ import annotations

import base64
import csv
import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from perpvol_core.config import Settings
from perpvol_core.exchanges import VENUES
from perpvol_core.fill import MS_PER_DAY, Fill
from perpvol_core.security.vault import Vault
from perpvol_core.store import Store
from tests.store.test_store import USD, make_fills

PERPVOL = str(Path(sys.executable).with_name("perpvol"))
SECRET = "wooxSECRETvalue-0123456789abcdef"  # noqa: S105 - a test value
API_KEY = "AKEYpublic1234567890XYZ"
ZERO = Decimal(0)


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([PERPVOL, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)


def make_env(home: Path, db_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPVOL_")}
    env["PERPVOL_HOME"] = str(home)
    if db_url:
        env["PERPVOL_DATABASE_URL"] = db_url
    env.update(extra)
    return env


def _all_bytes_under(folder: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in folder.rglob("*") if p.is_file()]


def test_keys_add_list_remove_keep_secrets_out(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = make_env(home)
    add = run(env, "keys", "add", "woox", "--label", "x", "--api-key", API_KEY, "--api-secret-stdin", "--no-test",
              stdin=SECRET + "\n")  # fmt: skip
    assert add.returncode == 0, add.stderr
    again = run(env, "keys", "add", "woox", "--label", "x", "--api-key", API_KEY, "--api-secret-stdin", "--no-test",
                stdin=SECRET)  # fmt: skip
    assert again.returncode != 0 and "already exists" in again.stderr
    listed, listed_json = run(env, "keys", "list"), run(env, "keys", "list", "--json")
    assert listed.returncode == 0 and listed_json.returncode == 0
    (row,) = json.loads(listed_json.stdout)
    assert row["label"] == "x" and row["exchange"] == "woox" and row["status"] == "new"
    assert row["hint"].endswith(API_KEY[-4:]) and "••••" in row["hint"] and row["hint"] in listed.stdout
    outputs = "".join(p.stdout + p.stderr for p in (add, again, listed, listed_json))
    assert SECRET not in outputs and API_KEY not in outputs
    for secret_form in (SECRET.encode(), base64.b64encode(SECRET.encode()), SECRET.encode("utf-16-le")):
        for path, data in _all_bytes_under(home):
            assert secret_form not in data, f"secret found in {path}"
    # the stored blob decrypts to the secret through the vault only
    settings = Settings.from_env(env)
    store = Store.open(settings)
    creds = Vault.open(settings, store).decrypt_account(store.get_account("x"))
    assert creds.api_secret.reveal() == SECRET and creds.api_key == API_KEY
    store.close()
    bad = run(env, "keys", "add", "paradex", "--label", "p", "--account", "nothex", "--l2-key-stdin", "--no-test",
              stdin="0xabc")  # fmt: skip
    assert bad.returncode == 2 and "0x-hex" in bad.stderr
    removed = run(env, "keys", "remove", "x")
    assert removed.returncode == 0
    assert run(env, "keys", "remove", "x").returncode != 0
    assert json.loads(run(env, "keys", "list", "--json").stdout) == []


def test_wrong_master_key_fails_cleanly_and_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = make_env(home)
    assert run(env, "keys", "add", "woox", "--label", "x", "--api-key", API_KEY, "--api-secret-stdin", "--no-test",
               stdin=SECRET).returncode == 0  # fmt: skip
    before = {p: d for p, d in _all_bytes_under(home)}
    wrong = base64.b64encode(os.urandom(32)).decode()
    res = run(make_env(home, PERPVOL_MASTER_KEY=wrong), "keys", "add", "woox", "--label", "y", "--api-key", API_KEY,
              "--api-secret-stdin", "--no-test", stdin=SECRET)  # fmt: skip
    assert res.returncode != 0 and "does not match" in res.stderr and "Traceback" not in res.stderr
    assert wrong not in res.stderr
    rot = run(make_env(home, PERPVOL_MASTER_KEY=wrong), "keys", "rotate-master", "--new-key-file", str(tmp_path / "n"))
    assert rot.returncode != 0 and not (tmp_path / "n").exists()
    assert {p: d for p, d in _all_bytes_under(home)} == before


def test_rotate_master_via_cli(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = make_env(home)
    assert run(env, "keys", "add", "woox", "--label", "x", "--api-key", API_KEY, "--api-secret-stdin", "--no-test",
               stdin=SECRET).returncode == 0  # fmt: skip
    old_key = (home / "master.key").read_text()
    res = run(env, "keys", "rotate-master")
    assert res.returncode == 0, res.stderr
    assert (home / "master.key").read_text() != old_key and not (home / "master.key.new").exists()
    settings = Settings.from_env(env)
    store = Store.open(settings)
    assert Vault.open(settings, store).decrypt_account(store.get_account("x")).api_secret.reveal() == SECRET
    store.close()


def test_volume_json_daily_on_empty_store(tmp_path: Path) -> None:
    res = run(make_env(tmp_path / "home"), "volume", "--json", "--daily")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    zeros = {"24h": "0", "7d": "0", "30d": "0", "all": "0"}
    assert report["totals"] == zeros and report["by_exchange"] == dict.fromkeys(VENUES, zeros)
    assert report["daily"] == [] and datetime.strptime(report["generated_at"], "%Y-%m-%dT%H:%M:%SZ")


def _expected_window(fills: list[Fill], start_ms: int, end_ms: int) -> Decimal:
    return sum((f.price * f.size for f in fills if f.counted and start_ms <= f.ts_ms < end_ms), ZERO)


def test_volume_json_exact(tmp_path: Path, db_url: str) -> None:
    home = tmp_path / "home"
    env = make_env(home, db_url)
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    fills = make_fills(21, 600, days=40, start_ms=now_ms - 40 * MS_PER_DAY)
    store = Store.open(Settings.from_env(env))
    store.ingest_fills(store.add_account("w", "woox", None, b"x", "h").id, fills)
    store.close()
    res = run(env, "volume", "--json", "--daily")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    # generated_at has whole seconds: the true "now" lies within [g, g + 999] ms
    g = int(datetime.strptime(report["generated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()) * 1000
    for period, days in (("24h", 1), ("7d", 7), ("30d", 30)):
        candidates = {_expected_window(fills, n + 1 - days * MS_PER_DAY, n + 1) for n in (g, g + 999)}
        assert Decimal(report["totals"][period]) in candidates
    assert Decimal(report["totals"]["all"]) == _expected_window(fills, 0, 2**62)
    daily: dict[tuple, Decimal] = defaultdict(Decimal)
    fees: dict[tuple, Decimal] = defaultdict(Decimal)
    for f in fills:
        if f.counted:
            key = (datetime.fromtimestamp(f.ts_ms / 1000, tz=UTC).date(), f.exchange)
            daily[key] += f.price * f.size
            fees[key] += f.fee if f.fee_asset in USD else ZERO
    got = {(date.fromisoformat(r["date"]), r["exchange"]): Decimal(r["volume_usd"]) for r in report["daily"]}
    assert got == daily
    assert {(date.fromisoformat(r["date"]), r["exchange"]): Decimal(r["fees_usd"]) for r in report["daily"]} == fees
    human = run(env, "volume", "--exchange", "paradex")
    assert human.returncode == 0 and "paradex" in human.stdout and "woox" not in human.stdout


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export(tmp_path: Path, fmt: str) -> None:
    home = tmp_path / "home"
    env = make_env(home)
    fills = make_fills(31, 120)
    store = Store.open(Settings.from_env(env))
    store.ingest_fills(store.add_account("w", "woox", None, b"x", "h").id, fills)
    store.close()
    out = tmp_path / f"fills.{fmt}"
    res = run(env, "export", "--format", fmt, "--out", str(out))
    assert res.returncode == 0, res.stderr
    if fmt == "csv":
        with out.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        got = {r["fill_id"]: (Decimal(r["price"]), Decimal(r["size"]), Decimal(r["fee"]), Decimal(r["notional"]))
               for r in rows}  # fmt: skip
    else:
        import polars as pl

        frame = pl.read_parquet(out)
        assert isinstance(frame.schema["price"], pl.Decimal)
        got = {r["fill_id"]: (r["price"], r["size"], r["fee"], r["notional"]) for r in frame.iter_rows(named=True)}
    assert got == {f.fill_id: (f.price, f.size, f.fee, f.price * f.size) for f in fills}
