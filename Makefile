# Two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $@

instance/secret_key:
	mkdir -p instance
	$(BIN)/python -c 'import secrets; print(secrets.token_hex(32))' > $@

# Kept so that every `make run` can print the demo login, not only the first.
instance/demo_password:
	mkdir -p instance
	$(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(12))' > $@

# Serve the page, admin and scheduler on http://127.0.0.1:5000 with demo data (SQLite); the
# emails go to a catcher on 127.0.0.1:1025 and show at /admin/mail.
run: $(VENV)/.installed instance/secret_key instance/demo_password
	SECRET_KEY=$$(cat instance/secret_key) $(FLASK) db upgrade
	SECRET_KEY=$$(cat instance/secret_key) STATUSPAGE_DEMO_PASSWORD=$$(cat instance/demo_password) \
		$(FLASK) demo-data
	@echo "Status page: http://127.0.0.1:5000/   Ops console: http://127.0.0.1:5000/admin/"
	@echo "Demo ops login: demo@example.com / $$(cat instance/demo_password)"
	@echo "Emails sent: http://127.0.0.1:5000/admin/mail"
	SECRET_KEY=$$(cat instance/secret_key) FLASK_DEBUG=1 DEV_MAIL_CATCHER=true \
		MAIL_SERVER=127.0.0.1 MAIL_PORT=1025 $(FLASK) dev

# The whole suite (SQLite unless STATUSPAGE_TEST_DATABASE_URL names a PostgreSQL database).
test: $(VENV)/.installed
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .

bench: $(VENV)/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
