# The README's two commands: `make run` (install + serve demo) and `make test` (install + suite).
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080

# The OHIF viewer served at /viewer: npm package @ohif/app's prebuilt dist/ (see docs/dependencies.md).
OHIF_VERSION ?= 3.13.2
VIEWER = .viewer/ohif

.PHONY: run test lint install install-test viewer test-tools clean

# Debian packages some commands need, installed when missing and possible (root with apt-get);
# otherwise say so, and the tests that need them are skipped (outside CI) or fail (in CI).
APT_INSTALL = DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
define need_debian
	@missing=""; for t in $(1); do command -v $${t%%:*} >/dev/null || missing="$$missing $${t##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; apt-get update -qq && $(APT_INSTALL) $$missing; \
	  else echo "missing Debian packages:$$missing (install them as root)"; fi; fi
endef

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(VIEWER)/.installed-$(OHIF_VERSION): | $(VENV)/.installed
	$(call need_debian,npm:npm)
	rm -rf $(VIEWER) && mkdir -p $(VIEWER)
	cd $(VIEWER) && npm pack --silent @ohif/app@$(OHIF_VERSION) >/dev/null \
		&& tar xzf ohif-app-$(OHIF_VERSION).tgz && rm -f ohif-app-$(OHIF_VERSION).tgz
	$(BIN)/python -m app.viewer.install $(VIEWER)/package/dist
	touch $@

viewer: $(VIEWER)/.installed-$(OHIF_VERSION)

run: install viewer
	$(BIN)/imageshare serve --demo --host $(HOST) --port $(PORT)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy app smart conformance examples

# dcmtk for the DIMSE tests (storescu/echoscu/findscu), chromium for the browser tests.
test-tools:
	$(call need_debian,storescu:dcmtk findscu:dcmtk echoscu:dcmtk chromium:chromium)

test: lint viewer test-tools
	$(BIN)/pytest

clean:
	rm -rf $(VENV) data .viewer .pytest_cache .mypy_cache .ruff_cache
