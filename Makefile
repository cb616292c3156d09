# Vouch — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test bench lint install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(FLASK) db upgrade
	$(FLASK) demo load
	$(FLASK) run --host 127.0.0.1 --port 5000

# The suite runs on SQLite, then again on PostgreSQL when TEST_DATABASE_URL is set.
test: install
	env -u TEST_DATABASE_URL $(BIN)/pytest
	if [ -n "$$TEST_DATABASE_URL" ]; then $(BIN)/pytest; fi

bench: install
	@for script in bench/*.py; do [ -e "$$script" ] || continue; $(BIN)/python "$$script"; done

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance/*.sqlite3*
