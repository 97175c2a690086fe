"""config.yaml values typed by its JSON schema, and validation errors in a few lines.

Snakemake passes values nested in ``--config`` as strings (``--config 'cv={folds: 3}'``
gives ``cv.folds == "3"``; snakemake issue #2099), which the schema then refuses.
:func:`coerce` turns such strings into the type the schema asks for at that key:
integers, numbers, booleans, null, lists and objects (YAML flow syntax). A string
stays a string where the schema allows one, and a value that fits no type is left
as it is for validation to report.

:func:`short_error` makes one short message of a config that fails validation: the
key's path, what is wrong, and for a misspelt key the closest valid one.

Like :mod:`sparselmm.methods`, this module imports nothing from the package: the
Snakefile reads it by path.
"""

import difflib
import math
import re

TRUE = ("true", "yes", "on")
FALSE = ("false", "no", "off")
NULL = ("null", "none", "~", "")
INTEGER = re.compile(r"[+-]?\d+")


def _types(schema):
    t = schema.get("type", [])
    return [t] if isinstance(t, str) else list(t)


def _alternatives(schema):
    """The schema itself, or each branch of its ``oneOf``/``anyOf``."""
    branches = schema.get("oneOf") or schema.get("anyOf")
    return list(branches) if branches else [schema]


def _from_text(value, kind):
    """``value`` (a string) as ``kind``, or raise ValueError."""
    text = value.strip()
    low = text.lower()
    if kind == "null" and low in NULL:
        return None
    if kind == "boolean" and low in TRUE + FALSE:
        return low in TRUE
    if kind == "integer" and INTEGER.fullmatch(text):
        return int(text)
    if kind == "number":
        number = float(text)  # ValueError when not a number
        if math.isfinite(number):
            return int(number) if INTEGER.fullmatch(text) else number
    if kind in ("array", "object"):
        import yaml

        parsed = yaml.safe_load(text)
        if isinstance(parsed, list if kind == "array" else dict):
            return parsed
    raise ValueError(value)


def coerce(value, schema):
    """``value`` with every string that the schema types otherwise converted."""
    for branch in _alternatives(schema):
        types = _types(branch)
        if isinstance(value, str):
            if value in branch.get("enum", ()) or value == branch.get("const", object()):
                return value
            low = value.strip().lower()
            for option in branch.get("enum", ()):  # an enum of YAML words: true, false, 3
                if not isinstance(option, str) and (
                        str(option).lower() == low
                        or (isinstance(option, bool) and low in TRUE + FALSE
                            and (low in TRUE) == option)):
                    return option
            if "string" in types:  # a path may be empty, never a null word
                null = "null" in types and low in NULL[:-1]
                return None if null else value
            for kind in [t for t in ("null", "boolean", "integer", "number", "array", "object")
                         if t in types]:
                try:
                    converted = _from_text(value, kind)
                except ValueError:
                    continue
                return converted if kind not in ("array", "object") else coerce(converted,
                                                                                  branch)
        elif isinstance(value, dict) and ("object" in types or "properties" in branch):
            props = branch.get("properties", {})
            return {k: coerce(v, props[k]) if k in props else v for k, v in value.items()}
        elif isinstance(value, list) and ("array" in types or "items" in branch):
            items = branch.get("items", {})
            return [coerce(v, items) for v in value]
    return value


def _schema_at(schema, path):
    """The sub-schema at ``path`` (keys), following ``properties``."""
    for key in path:
        if isinstance(key, int):
            schema = schema.get("items", {})
        else:
            schema = schema.get("properties", {}).get(key, {})
    return schema


def short_error(config, schema, source="config.yaml"):
    """One short message for the first validation error of ``config``, or None when it
    is valid: the key's path, the problem, and the closest valid key for an unknown one."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return None
    path = list(error.absolute_path)
    where = ".".join(str(k) for k in path) or "(top level)"
    if error.validator == "additionalProperties":
        known = list(_schema_at(schema, path).get("properties", {}))
        extra = [k for k in error.instance if k not in known]
        lines = []
        for key in extra:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            lines.append(f"{source}: unknown key {key!r} in {where}{hint}")
        lines.append(f"valid keys there: {', '.join(known)}")
        return "\n".join(lines)
    text = error.message
    if len(text) > 200:
        text = text[:200] + " ..."
    return f"{source}: {where}: {text}"
