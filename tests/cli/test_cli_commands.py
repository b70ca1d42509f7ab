"""The `meterlib` commands that mirror the Ledger, run in-process through click's CliRunner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from meterlib.cli import cli

Run = Callable[..., Result]  # the `run` fixture of conftest.py
RunJson = Callable[..., tuple[int, Any]]  # the `run_json` fixture

PAST = "2025-06-01T12:00:00Z"
PAST_MS = 1748779200000
FAR_FUTURE = "2999-01-01"


def assert_clean_error(output: str, *needles: str) -> None:
    """An error is one `Error: ...` message, never a traceback."""
    assert "Traceback" not in output
    assert "Error:" in output
    for needle in needles:
        assert needle in output


class TestLedgerFile:
    """Where the ledger lives: --db, $METERLIB_DB, ./meterlib.db."""

    def test_default_is_meterlib_db_in_the_working_folder(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without --db or $METERLIB_DB the ledger is ./meterlib.db."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("METERLIB_DB", raising=False)
        result = CliRunner().invoke(cli, ["create", "acme", "messages", "--included", "5"])
        assert result.exit_code == 0, result.output
        assert (tmp_path / "meterlib.db").exists()

    def test_environment_variable_names_the_file(self, tmp_path: Path) -> None:
        """$METERLIB_DB is used when --db is not given."""
        path = tmp_path / "from-env.db"
        runner = CliRunner()
        env = {"METERLIB_DB": str(path)}
        assert runner.invoke(cli, ["customers", "create", "c1"], env=env).exit_code == 0
        listed = runner.invoke(cli, ["--json", "customers", "list"], env=env)
        assert path.exists()
        assert '"id": "c1"' in listed.stdout

    def test_reading_a_missing_file_is_an_error_and_creates_nothing(
        self, run: Run, db: Path
    ) -> None:
        """A read-only command on a missing file exits 2 and leaves no empty file behind."""
        result = run("balances", "acme")
        assert result.exit_code == 2
        assert_clean_error(result.stderr, "no ledger file", str(db))
        assert not db.exists()


class TestCatalogue:
    """features create|list, customers create|list, entities create."""

    def test_features_of_every_type(self, run_json: RunJson) -> None:
        """Metered, boolean and credit-system features come back in Autumn's Feature shape."""
        status, metered = run_json("features", "create", "ai_calls", "--event-names", "ai,llm")
        assert status == 0
        assert metered["type"] == "metered"
        assert metered["event_names"] == ["ai", "llm"]
        status, pool = run_json(
            "features", "create", "credits", "--type", "credit_system",
            "--credit-schema", '{"ai_calls": 2.5}',
        )  # fmt: skip
        assert status == 0
        assert pool["credit_schema"] == [{"metered_feature_id": "ai_calls", "credit_cost": 2.5}]
        assert run_json("features", "create", "sso", "--type", "boolean")[0] == 0
        status, listed = run_json("features", "list")
        assert [f["id"] for f in listed["list"]] == ["ai_calls", "credits", "sso"]

    def test_features_table(self, run: Run) -> None:
        """The table lists each feature with its type."""
        run("features", "create", "seats", "--non-consumable", "--name", "Seats")
        result = run("features", "list")
        assert result.exit_code == 0
        assert "seats" in result.stdout
        assert "Seats" in result.stdout
        assert "no" in result.stdout.splitlines()[-1]

    def test_duplicate_feature_is_a_library_error(self, run: Run) -> None:
        """Creating a feature twice exits 2 with the library's message and code."""
        run("features", "create", "x")
        result = run("features", "create", "x")
        assert result.exit_code == 2
        assert_clean_error(result.stderr, "already exists", "already_exists")

    def test_customers(self, run: Run, run_json: RunJson) -> None:
        """A customer comes back as Autumn's Customer object; list shows them in id order."""
        status, customer = run_json(
            "customers", "create", "c2", "--name", "Two", "--metadata", '{"tier": "pro"}'
        )
        assert status == 0
        assert customer["id"] == "c2"
        assert customer["metadata"] == {"tier": "pro"}
        assert customer["balances"] == {}
        assert customer["flags"] == {}
        run("customers", "create", "c1")
        status, listed = run_json("customers", "list")
        assert [c["id"] for c in listed["list"]] == ["c1", "c2"]
        assert "Two" in run("customers", "list").stdout

    def test_entities(self, acme: str, run_json: RunJson) -> None:
        """An entity is created under a customer."""
        status, entity = run_json("entities", "create", acme, "seat-1", "--name", "Ann")
        assert status == 0
        assert entity["customer_id"] == acme
        assert entity["name"] == "Ann"


class TestCreateUpdateDelete:
    """create, update and delete, with options as the Python API's keywords."""

    def test_create_stacks_grants(self, run_json: RunJson) -> None:
        """Each create adds a breakdown row; reset and rollover take JSON or a word."""
        status, first = run_json(
            "create", "acme", "messages", "--included", "100", "--reset", "month",
            "--rollover", '{"max": 50, "length": 1}', "--plan-id", "pro",
        )  # fmt: skip
        assert status == 0
        assert first["success"] is True
        assert first["balance"]["breakdown"][0]["reset"]["interval"] == "month"
        assert first["balance"]["breakdown"][0]["plan_id"] == "pro"
        status, second = run_json(
            "create", "acme", "messages", "--granted-balance", "0.5",
            "--reset", '{"interval": "week", "interval_count": 2}', "--expires-at", FAR_FUTURE,
        )  # fmt: skip
        assert status == 0
        balance = second["balance"]
        assert balance["granted"] == 100.5
        assert [row["included_grant"] for row in balance["breakdown"]] == [0.5, 100]
        assert balance["breakdown"][0]["reset"]["interval_count"] == 2
        assert balance["breakdown"][0]["expires_at"] == 32472144000000

    def test_create_flags_and_overage(self, run_json: RunJson) -> None:
        """Boolean grants answer with a flag; --overage-allowed and --max-purchase are kept."""
        run_json("features", "create", "sso", "--type", "boolean")
        status, granted = run_json("create", "acme", "sso")
        assert status == 0
        assert granted["balance"] is None
        assert granted["flag"]["feature_id"] == "sso"
        status, metered = run_json(
            "create", "acme", "calls", "--included", "10", "--overage-allowed",
            "--max-purchase", "5",
        )  # fmt: skip
        assert metered["balance"]["overage_allowed"] is True
        assert metered["balance"]["max_purchase"] == 5

    def test_create_table(self, run: Run) -> None:
        """The table shows totals and one row per grant."""
        result = run("create", "acme", "messages", "--unlimited")
        assert result.exit_code == 0
        assert "unlimited" in result.stdout
        assert "grant_1" in result.stdout

    def test_update_and_delete(self, acme: str, run_json: RunJson) -> None:
        """update sets remaining with Autumn's rules; delete removes the grants it matches."""
        status, updated = run_json("update", acme, "messages", "--remaining", "50")
        assert status == 0
        assert updated["balance"]["remaining"] == 50
        status, updated = run_json("update", acme, "messages", "--balance-id", "top-up",
                                   "--add-to-balance", "5")  # fmt: skip
        assert updated["balance"]["remaining"] == 55
        assert run_json("delete", acme, "--balance-id", "top-up") == (0, {"success": True})
        status, left = run_json("balances", acme)
        assert [row["id"] for row in left["messages"]["breakdown"]] == ["grant_1"]

    def test_update_of_nothing_is_an_error(self, acme: str, run: Run) -> None:
        """An update matching no grant exits 2 with balance_not_found."""
        result = run("update", acme, "messages", "--interval", "year", "--usage", "1")
        assert result.exit_code == 2
        assert_clean_error(result.stderr, "balance_not_found")


class TestCheck:
    """check: exit 0 when allowed, 1 when not, 2 on bad input."""

    def test_allowed(self, acme: str, run_json: RunJson) -> None:
        """An allowed check exits 0 and prints Autumn's check response."""
        status, answer = run_json("check", acme, "messages", "--required-balance", "120")
        assert status == 0
        assert answer["allowed"] is True
        assert answer["customer_id"] == acme
        assert answer["required_balance"] == 120
        assert answer["balance"]["remaining"] == 120
        assert answer["flag"] is None

    def test_not_allowed_exits_1(self, acme: str, run: Run, run_json: RunJson) -> None:
        """A check that is not allowed exits 1, in JSON and in table mode."""
        status, answer = run_json(
            "check", acme, "messages", "--required-balance", "121", "--with-preview"
        )
        assert status == 1
        assert answer["allowed"] is False
        assert answer["preview"]["scenario"] == "usage_limit"
        result = run("check", acme, "messages", "--required-balance", "121")
        assert result.exit_code == 1
        assert result.stdout.startswith("NOT allowed")

    def test_send_event_deducts(self, acme: str, run_json: RunJson) -> None:
        """--send-event checks and deducts in one step."""
        status, answer = run_json("check", acme, "messages", "--required-balance", "30",
                                  "--send-event", "--properties", '{"model": "x"}')  # fmt: skip
        assert status == 0
        assert answer["balance"]["remaining"] == 90

    def test_bad_number_exits_2(self, acme: str, run: Run) -> None:
        """A malformed number is bad input: exit 2 and the library's message."""
        result = run("check", acme, "messages", "--required-balance", "lots")
        assert result.exit_code == 2
        assert_clean_error(result.stderr, "required_balance", "invalid_inputs")

    def test_unknown_customer_exits_2(self, acme: str, run: Run) -> None:
        """A customer that does not exist is a library error, not a denied check."""
        result = run("check", "nobody", "messages")
        assert result.exit_code == 2
        assert_clean_error(result.stderr, "customer_not_found")


class TestTrack:
    """track: deductions, idempotency keys, timestamps, event names."""

    def test_track_deducts_in_order(self, acme: str, run_json: RunJson) -> None:
        """The monthly grant drains before the one-off top-up; the result is Autumn's shape."""
        status, result = run_json("track", acme, "messages", "--value", "110")
        assert status == 0
        assert result["value"] == 110
        assert [(d["balance_id"], d["value"]) for d in result["deductions"]] == [
            ("grant_1", 100),
            ("top-up", 10),
        ]
        assert result["balance"]["remaining"] == 10

    def test_track_table(self, acme: str, run: Run) -> None:
        """The table names where the usage was taken from."""
        result = run("track", acme, "messages", "--value", "0.1")
        assert result.exit_code == 0
        assert "tracked 0.1" in result.stdout
        assert "grant_1" in result.stdout

    def test_repeated_idempotency_key_counts_once(self, acme: str, run: Run) -> None:
        """A repeated key exits 2 with the library's message and changes nothing."""
        assert run("track", acme, "messages", "--idempotency-key", "k1").exit_code == 0
        again = run("track", acme, "messages", "--idempotency-key", "k1")
        assert again.exit_code == 2
        assert_clean_error(again.stderr, "k1", "duplicate_idempotency_key")
        assert '"usage": 1,' in run("--json", "balances", acme).stdout

    def test_timestamp_and_event_name(self, acme: str, run: Run, run_json: RunJson) -> None:
        """An ISO timestamp is recorded; an event name reaches the features listening to it."""
        run("features", "create", "sms", "--event-names", "sent")
        run("create", acme, "sms", "--included", "10")
        status, result = run_json("track", acme, "--event-name", "sent", "--timestamp", PAST)
        assert status == 0
        assert result["event_name"] == "sent"
        status, page = run_json("events", "--customer", acme)
        assert page["list"][0]["timestamp"] == PAST_MS

    def test_future_timestamp_exits_2(self, acme: str, run: Run) -> None:
        """A timestamp in the future is refused by the library."""
        result = run("track", acme, "messages", "--timestamp", FAR_FUTURE)
        assert result.exit_code == 2
        assert_clean_error(result.stderr, "future")

    def test_bad_time_and_bad_json_are_usage_errors(self, acme: str, run: Run) -> None:
        """Unparseable times and JSON options exit 2 before anything runs."""
        bad_time = run("track", acme, "messages", "--timestamp", "yesterday")
        assert bad_time.exit_code == 2
        assert_clean_error(bad_time.stderr, "ISO 8601")
        bad_json = run("track", acme, "messages", "--properties", "{nope")
        assert bad_json.exit_code == 2
        assert_clean_error(bad_json.stderr, "not valid JSON")
        not_object = run("track", acme, "messages", "--properties", "[1]")
        assert not_object.exit_code == 2


class TestBalancesAndEvents:
    """balances CUSTOMER [--entity E], flags, events with filters and paging."""

    def test_balances_json_is_feature_to_balance(self, acme: str, run_json: RunJson) -> None:
        """--json balances prints {feature_id: Balance}."""
        status, found = run_json("balances", acme)
        assert status == 0
        assert set(found) == {"messages"}
        assert found["messages"]["granted"] == 120
        assert [row["id"] for row in found["messages"]["breakdown"]] == ["grant_1", "top-up"]

    def test_balances_of_an_entity(self, acme: str, run: Run, run_json: RunJson) -> None:
        """--entity shows the entity's own grants first, then the customer's."""
        run("create", acme, "messages", "--entity-id", "seat-1", "--included", "7")
        status, found = run_json("balances", acme, "--entity", "seat-1")
        assert status == 0
        assert found["messages"]["breakdown"][0]["included_grant"] == 7
        assert found["messages"]["remaining"] == 127

    def test_balances_table_with_flags(self, acme: str, run: Run) -> None:
        """The table shows each balance's breakdown and the flags."""
        run("features", "create", "sso", "--type", "boolean")
        run("create", acme, "sso")
        result = run("balances", acme)
        assert result.exit_code == 0
        assert "messages: granted 120, remaining 120, usage 0" in result.stdout
        assert "top-up" in result.stdout
        assert "sso" in result.stdout
        assert '"sso"' in run("--json", "flags", acme).stdout

    def test_events_filters_and_pages(self, acme: str, run: Run, run_json: RunJson) -> None:
        """events filters by customer, feature and time, newest first, a page at a time."""
        run("create", "other", "calls", "--included", "5")
        run("track", acme, "messages", "--value", "1", "--timestamp", "2025-01-01")
        run("track", acme, "messages", "--value", "2", "--timestamp", PAST)
        run("track", acme, "messages", "--value", "3")
        run("track", "other", "calls")
        status, page = run_json("events", "--customer", acme, "--limit", "2")
        assert status == 0
        assert [e["value"] for e in page["list"]] == [3, 2]
        status, rest = run_json("events", acme, "--cursor", page["next_cursor"])
        assert [e["value"] for e in rest["list"]] == [1]
        status, since = run_json("events", "--feature", "messages", "--since", PAST)
        assert [e["value"] for e in since["list"]] == [3, 2]
        status, everyone = run_json("events")
        assert len(everyone["list"]) == 4
        table = run("events", "--limit", "1")
        assert "calls" in table.stdout
        assert "more: --cursor" in table.stdout

    def test_events_customer_given_twice_differently(self, acme: str, run: Run) -> None:
        """CUSTOMER_ID and --customer must agree."""
        result = run("events", acme, "--customer", "other")
        assert result.exit_code == 2


class TestLocks:
    """check --lock holds an amount until finalize."""

    def test_lock_then_confirm_less(self, acme: str, run: Run, run_json: RunJson) -> None:
        """A lock holds its amount; finalize --override-value keeps only what was used."""
        status, held = run_json("check", acme, "messages", "--required-balance", "40",
                                "--lock", '{"lock_id": "job-7"}')  # fmt: skip
        assert status == 0
        assert held["balance"]["remaining"] == 80
        assert run_json("finalize", "job-7", "--override-value", "15") == (0, {"success": True})
        assert run_json("balances", acme)[1]["messages"]["remaining"] == 105
        again = run("finalize", "job-7")
        assert again.exit_code == 2
        assert_clean_error(again.stderr, "lock_not_found")

    def test_lock_release(self, acme: str, run: Run) -> None:
        """finalize --action release gives everything back."""
        run("check", acme, "messages", "--lock", '{"lock_id": "l2"}')
        bad = run("check", acme, "messages", "--lock", '{"lock_id": "l3", "expires_at": "x"}')
        assert bad.exit_code == 2
        result = run("finalize", "l2", "--action", "release")
        assert result.exit_code == 0
        assert result.stdout.strip() == "lock l2 released"


class TestDemo:
    """meterlib demo builds its scenario in the chosen file."""

    def test_demo_scenario(self, run: Run, run_json: RunJson) -> None:
        """The demo shows a reset with a capped rollover and a credit system, then reads back."""
        status, demo = run_json("demo", "--start", "2025-01-31T09:00:00Z")
        assert status == 0
        assert demo["customer_id"] == "acme"
        first, second = demo["steps"]
        assert first["balances"]["messages"]["remaining"] == 900
        assert first["balances"]["ai_credits"]["remaining"] == 80
        assert [c["allowed"] for c in first["checks"]] == [True, False]
        messages = second["balances"]["messages"]
        assert messages["rollovers"][0]["granted"] == 500
        assert messages["remaining"] == 1650
        assert second["balances"]["ai_credits"]["remaining"] == 100
        assert run("--json", "balances", "acme").exit_code == 0

    def test_demo_twice_adds_a_customer(self, run: Run) -> None:
        """A second run keeps the first customer and adds acme-2; the text shows breakdowns."""
        assert run("demo", "--start", "2025-01-01").exit_code == 0
        result = run("demo", "--start", "2025-03-01")
        assert result.exit_code == 0
        assert "balances acme-2" in result.stdout
        assert "rollover" in result.stdout
        assert "NOT allowed" in result.stdout


class TestLedgerSettings:
    """Ledger(...) settings are group options, as they are not stored in the file."""

    def test_reverse_deduction_order(self, acme: str, run: Run, run_json: RunJson) -> None:
        """--reverse-deduction-order drains the one-off top-up before the monthly grant."""
        result = run("--reverse-deduction-order", "--json", "track", acme, "messages")
        assert result.exit_code == 0
        assert '"balance_id": "top-up"' in result.stdout
        _, normal = run_json("track", acme, "messages")
        assert normal["deductions"][0]["balance_id"] == "grant_1"
