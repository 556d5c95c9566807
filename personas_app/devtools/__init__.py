"""Development tools, apart from the dashboard's runtime code: the Tavus emulator used by tests,
`make run` and `make bench`. Nothing the dashboard serves imports this package (an import-linter
contract in pyproject.toml holds this)."""
