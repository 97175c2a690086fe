"""The workflow's options of a method, for the benchmarks that fit with them.

A benchmark run as ``python bench/NAME.py`` imports this module from its own folder.
"""

from pathlib import Path

import yaml

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


def config_section(method):
    """``method``'s section of the default config.yaml (empty where it has none), the
    options a workflow job of that method gets."""
    return dict(yaml.safe_load(CONFIG.read_text()).get(method) or {})
