"""Config values given as text (Snakemake's nested --config) typed by the schema, and
validation errors in a few lines."""

from pathlib import Path

import pytest
import yaml

from sparselmm.config_types import coerce, short_error

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())


def typed(section, key, text):
    return coerce({section: {key: text}}, SCHEMA)[section][key]


def test_integers():
    assert typed("cv", "folds", "3") == 3 and isinstance(typed("cv", "folds", "3"), int)
    assert typed("simulation", "n_individuals", " 300 ") == 300


def test_numbers():
    assert typed("models", "min_pip", "0.01") == 0.01
    assert typed("models", "min_pip", "1e-3") == 0.001


def test_booleans():
    assert typed("realdata", "enabled", "true") is True
    assert typed("realdata", "enabled", "False") is False
    assert typed("simulation", "enabled", "no") is False


def test_null_and_integer_or_null():
    assert typed("realdata", "cis_window_kb", "200") == 200
    assert typed("realdata", "cis_window_kb", "null") is None
    # a [string, null] key: a path stays a path, the word null is null
    assert typed("scoring", "genotypes", "data/cohort") == "data/cohort"
    assert typed("scoring", "genotypes", "null") is None


def test_lists_and_their_items():
    assert typed("simulation", "n_causal", "[1, 10]") == [1, 10]
    assert typed("simulation", "h2", ["0.2", "0.5"]) == [0.2, 0.5]
    assert coerce({"methods": "[sparselmm, lasso]"}, SCHEMA)["methods"] == ["sparselmm", "lasso"]


def test_enum_of_yaml_words():
    assert typed("models", "predixcan", "true") is True
    assert typed("models", "predixcan", "auto") == "auto"


def test_strings_and_untypable_values_are_left_alone():
    assert coerce({"analysis": "123"}, SCHEMA)["analysis"] == "123"
    assert typed("cv", "folds", "three") == "three"  # validation names it
    assert coerce({"simulaton": {"n_snps": "5"}}, SCHEMA) == {"simulaton": {"n_snps": "5"}}


def test_the_whole_default_config_is_unchanged():
    assert coerce(CONFIG, SCHEMA) == CONFIG


def test_misspelt_key_gets_one_line_and_the_closest_key():
    bad = dict(CONFIG, simulaton={"n_snps": 5})
    message = short_error(bad, SCHEMA)
    assert message.splitlines()[0] == (
        "config.yaml: unknown key 'simulaton' in (top level); did you mean 'simulation'?")
    assert len(message.splitlines()) == 2


def test_nested_wrong_type_names_the_key():
    bad = {**CONFIG, "cv": {**CONFIG["cv"], "folds": "three"}}
    assert short_error(bad, SCHEMA) == "config.yaml: cv.folds: 'three' is not of type 'integer'"
    assert short_error(CONFIG, SCHEMA) is None
