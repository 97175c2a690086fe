"""The conda environments pin exactly what pyproject.toml pins for pip."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda packages with no pip counterpart (installed from Debian by setup.sh)
NOT_ON_PYPI = {"python", "plink2", "xz", "tar"}


def pip_pins():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {}
    for dep in deps:
        name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", dep).groups()
        pins[name.lower()] = version
    return pins


def conda_pins(path):
    env = yaml.safe_load(path.read_text())
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for item in dep.get("pip", []):
                m = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", item)
                if m:
                    pins[m.group(1).lower()] = m.group(2)
        elif "=" in dep:
            name, version = dep.split("=", 1)
            pins[name.lower()] = version
    return pins


def test_every_conda_pin_matches_pip():
    pip = pip_pins()
    envs = sorted((ROOT / "envs").glob("*.yaml"))
    assert envs
    for env in envs:
        pins = conda_pins(env)
        for name, version in pins.items():
            if name in NOT_ON_PYPI:
                continue
            assert name in pip, f"{env.name}: {name} is not pinned in pyproject.toml"
            assert pip[name] == version, f"{env.name}: {name}={version}, pip pins {pip[name]}"


def test_every_pip_pin_is_in_an_env():
    # snakemake and its executor plugin run the rules; they are not needed inside them
    needed = {name for name in pip_pins() if not name.startswith("snakemake")}
    covered = set()
    for env in (ROOT / "envs").glob("*.yaml"):
        covered |= set(conda_pins(env))
    assert needed <= covered, needed - covered


def test_every_rule_names_an_existing_env():
    for smk in (ROOT / "workflow/rules").glob("*.smk"):
        for rel in re.findall(r'conda:\s*\n\s*"([^"]+)"', smk.read_text()):
            assert (smk.parent / rel).resolve().exists(), (smk.name, rel)
