"""The policy: layering, validation messages that name file and key, config check and show."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from clientbook import policy as policy_module
from clientbook.errors import BadInput, PolicyError

from helpers import run_cli


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "bank.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        policy_module.load([path])
    return [problem.render() for problem in caught.value.problems]


def test_defaults_load_and_cover_every_plugin_table():
    policy, manager = policy_module.load([])
    assert set(policy.tables) == {"book", "staff", "plugins", "tui", "retail_tiering", "lifecycle", "key_account"}
    assert [tier.name for tier in policy["retail_tiering"].tiers] == ["private_banking", "wealth", "affluent", "mass"]
    assert policy.currency == "CNY" and policy.minor_digits == 2
    assert {info.name for info in manager.loaded()} == {"retail_tiering", "lifecycle", "key_account", "panels"}


def test_institution_file_layers_over_defaults_and_lists_replace(tmp_path):
    path = tmp_path / "bank.toml"
    path.write_text(
        '[book]\ncurrency = "HKD"\n\n[[retail_tiering.tiers]]\nname = "vip"\nmin_assets = 1_000_000\nposts = ["wealth_manager"]\n\n'
        '[[retail_tiering.tiers]]\nname = "rest"\nmin_assets = 0\nposts = ["wealth_manager"]\n',
        encoding="utf-8",
    )
    policy, _ = policy_module.load([path])
    assert policy.currency == "HKD"
    assert policy.minor_digits == 2  # untouched keys keep the default
    assert [tier.name for tier in policy["retail_tiering"].tiers] == ["vip", "rest"]
    assert policy.source_of("book.currency") == str(path)
    assert policy.source_of("book.minor_digits") == "config/default.toml"


def test_unknown_key_names_file_and_dotted_key_with_did_you_mean(tmp_path):
    found = problems_of(tmp_path, "[retail_tiering]\nbasiss = 'total_assets'\n")
    assert found == [f"{tmp_path / 'bank.toml'}: retail_tiering.basiss: unknown key; did you mean 'basis'?"]


def test_unknown_nested_key_in_a_list_entry(tmp_path):
    found = problems_of(tmp_path, "[[retail_tiering.tiers]]\nname = 'a'\nmin_asets = 0\n")
    assert any("retail_tiering.tiers[0].min_asets: unknown key; did you mean 'min_assets'?" in line for line in found)
    assert any("retail_tiering.tiers[0].min_assets: required key is missing" in line for line in found)


def test_unknown_table_suggests_the_near_name(tmp_path):
    found = problems_of(tmp_path, "[retail_tierng]\nbasis = 'total_assets'\n")
    assert found == [f"{tmp_path / 'bank.toml'}: retail_tierng: unknown table; did you mean [retail_tiering]?"]


def test_wrong_type_says_what_was_expected(tmp_path):
    found = problems_of(tmp_path, "[book]\nminor_digits = 'two'\n")
    assert found == [f"{tmp_path / 'bank.toml'}: book.minor_digits: found 'two', expected a whole number"]


def test_value_not_in_choices_suggests(tmp_path):
    found = problems_of(tmp_path, "[retail_tiering]\nbasis = 'total_asset'\n")
    assert "did you mean 'total_assets'?" in found[0] and "retail_tiering.basis" in found[0]


def test_thresholds_out_of_order(tmp_path):
    found = problems_of(
        tmp_path,
        "[[retail_tiering.tiers]]\nname = 'high'\nmin_assets = 100\nposts = ['wealth_manager']\n\n[[retail_tiering.tiers]]\nname = 'low'\n"
        "min_assets = 500\nposts = ['wealth_manager']\n\n[[retail_tiering.tiers]]\nname = 'rest'\nmin_assets = 0\nposts = ['wealth_manager']\n",
    )
    assert len(found) == 1
    assert "retail_tiering.tiers[1].min_assets" in found[0]
    assert "is not below the tier above ('high', 100)" in found[0]


def test_empty_tier_list(tmp_path):
    found = problems_of(tmp_path, "[retail_tiering]\ntiers = []\n")
    assert found == [f"{tmp_path / 'bank.toml'}: retail_tiering.tiers: the list is empty; at least one entry is needed"]


def test_lowest_tier_must_start_at_zero(tmp_path):
    found = problems_of(tmp_path, "[[retail_tiering.tiers]]\nname = 'only'\nmin_assets = 10\nposts = ['wealth_manager']\n")
    assert "retail_tiering.tiers[0].min_assets" in found[0] and "must start at 0" in found[0]


def test_negative_day_count(tmp_path):
    found = problems_of(tmp_path, "[key_account]\nreview_after_days = -7\n")
    assert found == [f"{tmp_path / 'bank.toml'}: key_account.review_after_days: found -7, expected a value of at least 0"]


def test_negative_threshold(tmp_path):
    found = problems_of(tmp_path, "[[retail_tiering.tiers]]\nname = 'only'\nmin_assets = -1\nposts = ['wealth_manager']\n")
    assert "retail_tiering.tiers[0].min_assets: found -1, expected a value of at least 0" in found[0]


def test_too_many_life_stages(tmp_path):
    stages = ", ".join(f"{{ name = 's{i}' }}" for i in range(9))
    found = problems_of(tmp_path, f"[lifecycle]\nstages = [{stages}]\nrules = [{{ stage = 's0' }}]\n")
    assert any("lifecycle.stages: 9 stages; the routine allows at most 8 groups" in line for line in found)


def test_rule_for_unknown_stage(tmp_path):
    found = problems_of(tmp_path, "[[lifecycle.rules]]\nstage = 'retirment'\n")
    assert any("lifecycle.rules[0].stage" in line and "did you mean 'retirement'?" in line for line in found)


def test_unknown_language_in_labels(tmp_path):
    found = problems_of(tmp_path, "[[staff.posts]]\nname = 'teller'\nlabel = { fr = 'Caissier' }\n")
    assert any("staff.posts[0].label.fr: unknown language 'fr'" in line for line in found)


def test_unknown_plugin_in_plugins_table(tmp_path):
    found = problems_of(tmp_path, "[plugins]\ndisable = ['retail_tierin']\n")
    assert found == [f"{tmp_path / 'bank.toml'}: plugins.disable: no plugin named 'retail_tierin' is installed; "
                     "did you mean 'retail_tiering'?"]


def test_every_problem_is_reported_at_once(tmp_path):
    found = problems_of(tmp_path, "[book]\ncurrency = 'yuan'\nminor_digits = 9\n[retail_tiering]\nbasis = 3\n[nope]\n")
    assert len(found) == 4


def test_toml_syntax_error_names_the_file(tmp_path):
    found = problems_of(tmp_path, "[book\ncurrency = 'CNY'\n")
    assert found[0].startswith(f"{tmp_path / 'bank.toml'}: -: not valid TOML")


def test_missing_policy_file():
    with pytest.raises(BadInput) as caught:
        policy_module.load(["/nonexistent/bank.toml"])
    assert "policy file not found: /nonexistent/bank.toml" in caught.value.render()


def test_policy_hash_changes_with_policy(tmp_path):
    default, _ = policy_module.load([])
    path = tmp_path / "bank.toml"
    path.write_text("[key_account]\nreview_after_days = 14\n")
    changed, _ = policy_module.load([path])
    assert default.hash != changed.hash
    assert policy_module.load([])[0].hash == default.hash


def test_config_check_cli_reports_all_problems_and_exits_2(tmp_path):
    path = tmp_path / "bank.toml"
    path.write_text("[book]\ncurrency = 5\n[retail_tiering]\nbasiss = 'x'\n")
    result = run_cli("--config", str(path), "config", "check", cwd=tmp_path)
    assert result.returncode == 2
    assert "the policy has 2 problem(s):" in result.stderr
    assert f"{path}: book.currency: found 5, expected text" in result.stderr
    assert f"{path}: retail_tiering.basiss: unknown key; did you mean 'basis'?" in result.stderr
    ok = run_cli("config", "check", cwd=tmp_path, check_code=0)
    assert ok.stdout.startswith("policy OK: 7 tables from config/default.toml")


def test_config_show_prints_sources_and_round_trips(tmp_path):
    path = tmp_path / "bank.toml"
    path.write_text("[book]\ncurrency = 'HKD'\n")
    shown = run_cli("--config", str(path), "config", "show", cwd=tmp_path, check_code=0).stdout
    assert f'currency = "HKD"  # {path}' in shown
    assert 'minor_digits = 2  # config/default.toml' in shown
    parsed = tomllib.loads(shown)  # the output is itself a policy file
    assert parsed["book"]["currency"] == "HKD" and len(parsed["retail_tiering"]["tiers"]) == 4
    again = tmp_path / "again.toml"
    again.write_text(shown)
    first = run_cli("--config", str(path), "config", "check", cwd=tmp_path, check_code=0).stdout
    second = run_cli("--config", str(again), "config", "check", cwd=tmp_path, check_code=0).stdout
    assert first.rsplit("(policy ", 1)[1] == second.rsplit("(policy ", 1)[1]
    rows = json.loads(run_cli("--config", str(path), "config", "show", "--format", "json", cwd=tmp_path).stdout)
    assert {"key": "book.currency", "value": "HKD", "source": str(path)} in rows


def test_example_institution_policies_are_valid(tmp_path, plugin_site):
    from helpers import ROOT

    policy, _ = policy_module.load([ROOT / "config" / "examples" / "hong_kong_bank.toml"])
    assert policy.currency == "HKD" and policy["retail_tiering"].basis == "avg_daily_assets_3m"
    assert [tier.name for tier in policy["retail_tiering"].tiers] == ["private_banking", "premier", "advance", "personal"]
    plugin_site("acme_tiering")
    swapped, manager = policy_module.load([ROOT / "config" / "examples" / "swap_tiering.toml"])
    assert "retail_tiering" not in swapped.tables and str(swapped["acme_tiering"].vip_from) == "2000000"
    assert manager.infos["retail_tiering"].status == "disabled"
