# Two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi

# The compiled catalogues (translations/*/LC_MESSAGES/messages.mo) are built, never committed.
CATALOGUES := $(wildcard translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)
# The marks that `make messages` extracts, besides gettext's own.
KEYWORDS := -k lazy_gettext -k lazy_ngettext:1,2

.PHONY: run test lint bench clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,dev]'
	$(BIN)/pybabel compile -d translations
	touch $@

%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile -i $< -o $@

# Extract every marked string into translations/messages.pot and merge it into each catalogue;
# then translate what is new or fuzzy (tests/test_languages.py fails until every entry is).
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg $(KEYWORDS) --no-location --sort-output \
		--omit-header -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations \
		--no-wrap --ignore-obsolete

instance/secret_key:
	mkdir -p instance
	$(BIN)/python -c 'import secrets; print(secrets.token_hex(32))' > $@

# Kept so that every `make run` can print the demo login, not only the first.
instance/demo_password:
	mkdir -p instance
	$(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(12))' > $@

# Serve the page, admin and scheduler on http://127.0.0.1:5000 with demo data (SQLite); the
# emails go to a catcher on 127.0.0.1:1025 and show at /admin/mail.
run: $(VENV)/.installed $(COMPILED) instance/secret_key instance/demo_password
	SECRET_KEY=$$(cat instance/secret_key) $(FLASK) db upgrade
	SECRET_KEY=$$(cat instance/secret_key) STATUSPAGE_DEMO_PASSWORD=$$(cat instance/demo_password) \
		$(FLASK) demo-data
	@echo "Status page: http://127.0.0.1:5000/   Ops console: http://127.0.0.1:5000/admin/"
	@echo "Demo ops login: demo@example.com / $$(cat instance/demo_password)"
	@echo "Emails sent: http://127.0.0.1:5000/admin/mail"
	SECRET_KEY=$$(cat instance/secret_key) FLASK_DEBUG=1 DEV_MAIL_CATCHER=true \
		MAIL_SERVER=127.0.0.1 MAIL_PORT=1025 $(FLASK) dev

# The whole suite (SQLite unless STATUSPAGE_TEST_DATABASE_URL names a PostgreSQL database).
test: $(VENV)/.installed $(COMPILED)
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .

bench: $(VENV)/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
