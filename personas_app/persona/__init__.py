"""The persona document: pure Python, dicts in and dicts out.

Schema and plain-language problems, checks, layers, create payloads, minimal patches and rebase,
redaction, legacy field mapping, templates and diffs. Imports only the standard library,
jsonschema and jsonpatch: no Django, no I/O beyond reading its own schema file (an import-linter
contract in pyproject.toml holds this).
"""
