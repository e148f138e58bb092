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
	@echo "== Installing statuspage and its tools into $(VENV) (a minute or two the first time)"
	$(BIN)/pip install --no-input --progress-bar on -e '.[test,dev]'
	@echo "== Compiling the translations"
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

# Serve the page, admin and scheduler on http://127.0.0.1:$(PORT) with demo data (SQLite); the
# emails go to a catcher on 127.0.0.1:1025 and show at /admin/mail. `make run PORT=8080` moves
# the page, and every link it writes (emails, feeds, the API) follows.
PORT ?= 5000
BASE_URL := http://127.0.0.1:$(PORT)
# The language the demo page is written in on its first start: en, or pl.
DEMO_LANGUAGE ?= en
RUN_ENV = SECRET_KEY=$$(cat instance/secret_key) BASE_URL=$(BASE_URL)

run: $(VENV)/.installed $(COMPILED) instance/secret_key instance/demo_password
	@echo "== Upgrading the database (instance/statuspage.db)"
	@$(RUN_ENV) $(FLASK) db upgrade
	@echo "== Loading the demo page (into an empty database only)"
	@$(RUN_ENV) STATUSPAGE_DEMO_PASSWORD=$$(cat instance/demo_password) $(FLASK) demo-data --quiet --language $(DEMO_LANGUAGE)
	@echo ""
	@echo "   Status page:    $(BASE_URL)/"
	@echo "   Ops console:    $(BASE_URL)/admin/   (demo@example.com / $$(cat instance/demo_password))"
	@echo "   Emails sent:    $(BASE_URL)/admin/mail"
	@echo ""
	@$(RUN_ENV) FLASK_DEBUG=1 DEV_MAIL_CATCHER=true MAIL_SERVER=127.0.0.1 MAIL_PORT=1025 \
		$(FLASK) dev --port $(PORT)

# The whole suite (SQLite unless STATUSPAGE_TEST_DATABASE_URL names a PostgreSQL database).
test: $(VENV)/.installed $(COMPILED)
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .

bench: $(VENV)/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
