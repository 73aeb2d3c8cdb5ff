"""Plugin discovery, swapping and load control, with real installed distributions."""

from __future__ import annotations

import json

import pytest

from helpers import copy_of, run_cli


def plugins(tmp_path, *options, env=None) -> dict[str, dict]:
    result = run_cli(*options, "plugins", "--format", "json", cwd=tmp_path, env=env, check_code=0)
    return {row["name"]: row for row in json.loads(result.stdout)}


def tiers(tmp_path, *options, env=None) -> dict[str, int]:
    run_cli(*options, "run", "--as-of", "2026-11-30", cwd=tmp_path, env=env, check_code=0)
    rows = json.loads(run_cli(*options, "customers", "--limit", "100000", "--format", "json", cwd=tmp_path,
                              env=env, check_code=0).stdout)
    counts: dict[str, int] = {}
    for row in rows:
        if row.get("tier"):
            counts[row["tier"]] = counts.get(row["tier"], 0) + 1
    return counts


@pytest.fixture
def demo(tui_demo_en):
    """``demo(folder)`` puts a copy of a demo branch of 300 customers in ``folder`` as its default
    book: the session's, made by the real CLI with only the built-in plugins (conftest.py; a
    plugin installed but not enabled is not loaded, so the demo is the same with it)."""
    def copy(folder):
        copy_of(tui_demo_en, folder / "clientbook.db")

    return copy


def test_builtin_plugins_are_listed_with_version_source_and_hooks(tmp_path):
    found = plugins(tmp_path)
    assert set(found) == {"retail_tiering", "lifecycle", "key_account", "panels"}
    tiering = found["retail_tiering"]
    assert tiering["source"] == "built-in" and tiering["status"] == "loaded" and tiering["version"] == "0.1.0"
    assert "clientbook_classify" in tiering["hooks"] and "clientbook_policy_tables" in tiering["hooks"]
    table = run_cli("plugins", cwd=tmp_path, check_code=0).stdout
    assert "retail_tiering" in table and "built-in" in table


def test_third_party_plugin_is_found_but_loads_only_when_enabled(tmp_path, plugin_site):
    plugin_site("acme_tiering")
    found = plugins(tmp_path)
    assert found["acme_tiering"]["status"] == "not-enabled"
    assert found["acme_tiering"]["source"] == "acme-tiering" and found["acme_tiering"]["version"] == "1.2.0"


def test_enabling_a_second_tier_owner_is_a_conflict_naming_both(tmp_path, plugin_site):
    plugin_site("acme_tiering")
    (tmp_path / "bank.toml").write_text('[plugins]\nenable = ["acme_tiering"]\n')
    result = run_cli("--config", "bank.toml", "config", "check", cwd=tmp_path)
    assert result.returncode == 2
    assert ("result column 'tier' is claimed by two plugins: 'acme_tiering' and 'retail_tiering'; "
            "disable one of them in [plugins]") in result.stderr
    assert "bank.toml: plugins:" in result.stderr


def test_swapping_the_builtin_tiering_for_an_institution_plugin(tmp_path, plugin_site, demo):
    plugin_site("acme_tiering")
    demo(tmp_path)
    before = tiers(tmp_path)
    assert {"wealth", "affluent", "mass"} <= set(before) <= {"private_banking", "wealth", "affluent", "mass"}
    policy = "config/examples/swap_tiering.toml"
    from helpers import ROOT

    options = ("--config", str(ROOT / policy))
    found = plugins(tmp_path, *options)
    assert found["acme_tiering"]["status"] == "loaded" and found["retail_tiering"]["status"] == "disabled"
    after = tiers(tmp_path, *options)
    assert set(after) == {"vip", "standard"}
    assert sum(after.values()) == 300  # acme tiers every customer, corporate ones too
    # The plugin's policy table and its migration came with it.
    shown = json.loads(run_cli(*options, "show", "C0000001", "--format", "json", cwd=tmp_path, check_code=0).stdout)
    assert shown["classification"]["tier"]["reason"].startswith("ACME rule: assets")
    assert "2,000,000.00 CNY" in shown["classification"]["tier"]["reason"]
    import sqlite3

    tables = {row[0] for row in sqlite3.connect(tmp_path / "clientbook.db").execute("SELECT name FROM sqlite_master")}
    assert "acme_notes" in tables


def test_load_list_limits_loading_for_debugging(tmp_path, demo):
    env = {"CLIENTBOOK_LOAD_PLUGINS": "retail_tiering"}
    found = plugins(tmp_path, env=env)
    assert found["retail_tiering"]["status"] == "loaded"
    assert found["lifecycle"]["status"] == "not-in-load-list"
    demo(tmp_path)
    run = json.loads(run_cli("run", "--format", "json", "--as-of", "2026-11-30", cwd=tmp_path, env=env, check_code=0).stdout)
    assert set(run["counts"]["values"]) == {"tier", "familiarity"}
    assert run["plugins"] == {"retail_tiering": "0.1.0"}


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_work(tmp_path, plugin_site, demo):
    plugin_site("broken_plugin")
    (tmp_path / "bank.toml").write_text('[plugins]\nenable = ["broken_plugin"]\n')
    found = plugins(tmp_path, "--config", "bank.toml")
    assert found["broken_plugin"]["status"] == "failed"
    assert "this plugin needs a package that is not installed" in found["broken_plugin"]["error"]
    assert found["retail_tiering"]["status"] == "loaded"
    demo(tmp_path)
    result = run_cli("--config", "bank.toml", "run", "--as-of", "2026-11-30", cwd=tmp_path, check_code=0)
    assert "warning: plugin 'broken_plugin' failed to load and is left out" in result.stderr
    assert "Private banking" in result.stdout or "Wealth" in result.stdout


def test_entry_points_resolve_from_the_installed_distribution():
    from importlib.metadata import distribution, entry_points

    points = {point.name: point for point in entry_points(group="clientbook")}
    for name in ("retail_tiering", "lifecycle", "key_account"):
        assert points[name].dist.metadata["Name"] == "clientbook"
        module = points[name].load()
        assert module.__name__ == f"clientbook.plugins.{name}"
    assert distribution("clientbook").version == "0.1.0"


def test_importing_the_cli_does_not_import_textual(tmp_path):
    import subprocess
    import sys

    code = "import sys, clientbook.cli; print('textual' in sys.modules, 'clientbook.plugins.retail_tiering' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["False", "False"]


DESK_POLICY = '[plugins]\nenable = ["acme_desk"]\n'


def kind_counts(path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(path) as connection:
        return dict(connection.execute("SELECT kind, COUNT(*) FROM customers GROUP BY kind"))


def test_a_plugin_brings_its_own_command(tmp_path, plugin_site, demo):
    from helpers import file_digest

    plugin_site("acme_desk")
    (tmp_path / "bank.toml").write_text(DESK_POLICY)
    demo(tmp_path)
    counts = kind_counts(tmp_path / "clientbook.db")
    options = ("--config", "bank.toml")
    listed = run_cli(*options, "--help", cwd=tmp_path, check_code=0).stdout
    assert "acme-desk" in listed and "count the book's customers by kind, the ACME way" in listed
    assert "acme-desk" not in run_cli("--help", cwd=tmp_path, check_code=0).stdout  # installed, not enabled
    usage = run_cli(*options, "acme-desk", "--help", cwd=tmp_path, check_code=0).stdout
    assert "--owner STAFF_ID" in usage and "only the customers this staff member looks after" in usage

    shown = run_cli(*options, "acme-desk", cwd=tmp_path, check_code=0).stdout
    assert shown == (f"ACME desk: {sum(counts.values())} customers "
                     f"(retail {counts['retail']}, corporate {counts['corporate']})\n")
    chinese = run_cli(*options, "--lang", "zh-Hant", "acme-desk", "--kind", "corporate", cwd=tmp_path, check_code=0)
    assert chinese.stdout == f"ACME 工作台：{counts['corporate']} 位客戶（法人 {counts['corporate']}）\n"

    # Bad arguments and bad input: exit 2 with the message, as for the core's commands; nothing written.
    before = file_digest(tmp_path / "clientbook.db")
    wrong = run_cli(*options, "acme-desk", "--kind", "nobody", cwd=tmp_path, check_code=2)
    assert "argument --kind: invalid choice: 'nobody'" in wrong.stderr
    unknown = run_cli(*options, "acme-desk", "--owner", "S9999", cwd=tmp_path, check_code=2)
    assert unknown.stderr == "ACME desk: no staff member 'S9999'\n"
    assert file_digest(tmp_path / "clientbook.db") == before


def test_two_plugins_taking_one_command_name_is_an_error_naming_both(tmp_path, plugin_site):
    plugin_site("acme_desk", "acme_clash")
    (tmp_path / "bank.toml").write_text('[plugins]\nenable = ["acme_desk", "acme_clash"]\n')
    result = run_cli("--config", "bank.toml", "plugins", cwd=tmp_path, check_code=1)
    assert result.stderr == ("command 'acme-desk' is added by both 'acme_clash' and 'acme_desk'; "
                             "disable one of them in [plugins]\n")
    # The core's commands still parse: help lists them, without either plugin's.
    listed = run_cli("--config", "bank.toml", "--help", cwd=tmp_path, check_code=0).stdout
    assert "plugins" in listed and "acme-desk" not in listed


def test_tiers_is_the_retail_tiering_plugins_command(tmp_path, demo):
    demo(tmp_path)
    assert "tier pyramid" in run_cli("--help", cwd=tmp_path, check_code=0).stdout
    assert run_cli("tiers", cwd=tmp_path, check_code=0).stdout.startswith("Pyramid (tier, latest run):")
    env = {"CLIENTBOOK_LOAD_PLUGINS": "lifecycle"}
    assert "tier pyramid" not in run_cli("--help", cwd=tmp_path, env=env, check_code=0).stdout
    assert "invalid choice: 'tiers'" in run_cli("tiers", cwd=tmp_path, env=env, check_code=2).stderr


def test_with_a_bad_policy_the_core_commands_still_parse_and_report_it(tmp_path):
    (tmp_path / "bad.toml").write_text("[book]\ncurrency = 5\n\n[tui]\nthem = 'x'\n")
    result = run_cli("--config", "bad.toml", "config", "check", cwd=tmp_path, check_code=2)
    assert "bad.toml: book.currency" in result.stderr and "bad.toml: tui.them" in result.stderr
    assert "config" in run_cli("--config", "bad.toml", "--help", cwd=tmp_path, check_code=0).stdout
    # A plugin's command is not there without the policy that loads its plugin: the error says why,
    # with the policy's problems, not argparse's "invalid choice"; the book is not touched.
    missing = run_cli("--config", "bad.toml", "--db", "book.db", "tiers", "--format", "csv", cwd=tmp_path,
                      check_code=2)
    assert "invalid choice" not in missing.stderr and "usage:" not in missing.stderr
    assert missing.stderr.splitlines()[0] == "the policy has 2 problem(s):"
    assert "bad.toml: tui.them" in missing.stderr and "'tiers' is not a clientbook command, or is a plugin's" in (
        missing.stderr)
    assert not (tmp_path / "book.db").exists()
    chinese = run_cli("--config", "bad.toml", "--lang", "zh-Hans", "tiers", cwd=tmp_path, check_code=2)
    assert "'tiers' 不是 clientbook 的命令" in chinese.stderr and "策略有 2 个问题" in chinese.stderr
    # A core command's own mistake is still argparse's to report, with the policy's problems after it.
    wrong = run_cli("--config", "bad.toml", "staff", "--bogus", cwd=tmp_path, check_code=2)
    assert "unrecognized arguments: --bogus" in wrong.stderr and "bad.toml: tui.them" in wrong.stderr


def test_the_cli_runs_a_plugins_command_without_importing_textual(tmp_path, plugin_site, demo):
    import subprocess
    import sys

    plugin_site("acme_desk")
    (tmp_path / "bank.toml").write_text(DESK_POLICY)
    demo(tmp_path)
    code = ("import sys\nfrom clientbook.cli import main\nmain(['--config', 'bank.toml', 'acme-desk'])\n"
            "print('textual' in sys.modules, 'acme_desk' in sys.modules, 'acme_desk.screens' in sys.modules)")
    output = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            check=True).stdout
    assert output.splitlines()[-1].split() == ["False", "True", "False"]
