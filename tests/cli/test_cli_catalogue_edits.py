"""`customers delete`, `entities list|delete`, `features update|delete` on the command line."""

from __future__ import annotations

import json

from conftest import Run, RunJson


class TestCustomersDelete:
    """customers delete removes the customer; an unknown one is exit 2 with its code."""

    def test_delete(self, acme: str, run: Run, run_json: RunJson) -> None:
        """The customer is gone from the list and its balances are an error."""
        assert run_json("customers", "delete", acme) == (0, {"success": True})
        assert run_json("customers", "list") == (0, {"list": []})
        result = run("balances", acme)
        assert result.exit_code == 2
        assert "customer_not_found" in result.stderr

    def test_unknown(self, run: Run) -> None:
        """An unknown customer is one line on stderr and exit 2."""
        run("customers", "create", "c1")
        result = run("customers", "delete", "nobody")
        assert result.exit_code == 2
        assert "Traceback" not in result.output
        assert "customer_not_found" in result.stderr


class TestEntities:
    """entities list pages through entities; entities delete removes one."""

    def test_list_and_delete(self, acme: str, run: Run, run_json: RunJson) -> None:
        """Entities listed in order, a page at a time; a deleted one is gone."""
        for seat in ("s1", "s2", "s3"):
            assert run("entities", "create", acme, seat, "--name", seat.upper()).exit_code == 0
        status, page = run_json("entities", "list", acme, "--limit", "2")
        assert (status, [e["id"] for e in page["list"]]) == (0, ["s1", "s2"])
        _, rest = run_json("entities", "list", "--limit", "2", "--cursor", page["next_cursor"])
        assert ([e["id"] for e in rest["list"]], rest["next_cursor"]) == (["s3"], None)
        table = run("entities", "list", acme, "--limit", "1").stdout
        assert "S1" in table
        assert "more: --cursor" in table
        assert run_json("entities", "delete", acme, "s2") == (0, {"success": True})
        _, page = run_json("entities", "list")
        assert [e["id"] for e in page["list"]] == ["s1", "s3"]


class TestFeatures:
    """features update changes a feature; features delete removes an unused one."""

    def test_update_and_delete(self, run: Run, run_json: RunJson) -> None:
        """Event names replace the old ones; a feature in use is refused, an unused one goes."""
        run("features", "create", "messages", "--event-names", "sent")
        status, feature = run_json(
            "features", "update", "messages", "--name", "Msgs", "--event-names", "a,b"
        )
        assert (status, feature["name"], feature["event_names"]) == (0, "Msgs", ["a", "b"])
        run("create", "acme", "messages", "--included", "5")
        result = run("features", "delete", "messages")
        assert result.exit_code == 2
        assert "invalid_request" in result.stderr
        assert run("delete", "acme", "--feature-id", "messages").exit_code == 0
        assert run("features", "delete", "messages").stdout.strip() == "deleted feature messages"
        assert json.loads(run("--json", "features", "list").stdout) == {"list": []}
