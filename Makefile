# The two commands of the README: `make demo` and `make test`.
# Both install what they need first: Debian packages (apt-get, through sudo when not root),
# a virtual environment in .venv, and the project into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo-out

.PHONY: demo test bench docs install constraints clean

install: $(STAMP)

$(STAMP): pyproject.toml deploy/system-packages.sh deploy/constraints.txt tests/browser/package-lock.json \
          tests/fhir-validator/package-lock.json
	sh deploy/system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c deploy/constraints.txt -e '.[test]'
	# The wheels deploy/install.sh --wheelhouse takes, for tests/cli/test_deploy.py's real installs (tests
	# reach no package index): the pinned run-time packages, and setuptools to build the kiosk itself.
	$(BIN)/pip wheel --quiet -w $(VENV)/wheelhouse -r deploy/constraints.txt
	$(BIN)/pip download --quiet --no-deps -d $(VENV)/wheelhouse 'setuptools>=70.1'
	# axe-core, the accessibility checker the browser tests inject into Chromium (tests/support/browser.py),
	# at the version tests/browser/package-lock.json pins.
	npm ci --prefix tests/browser --no-audit --no-fund
	# The FHIR R4 validator the tests run (tests/support/fhirvalidator.py): Medplum's, on its own pinned Node 22.
	npm ci --prefix tests/fhir-validator --no-audit --no-fund
	touch $(STAMP)

# Without a display, `kiosk demo` says so and runs the headless walk-through into DEMO_OUT.
demo: $(STAMP)
	$(BIN)/kiosk demo --out $(DEMO_OUT)

test: $(STAMP)
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/python -m pytest

# Benchmarks: each prints its figures beside a baseline run in the same process, and the ratio.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_read_card.py
	$(BIN)/python benchmarks/bench_print.py
	$(BIN)/python benchmarks/bench_sync.py
	$(BIN)/python benchmarks/bench_taps.py
	$(BIN)/python benchmarks/bench_idle.py
	$(BIN)/python benchmarks/bench_checkins.py
	$(BIN)/python benchmarks/bench_site.py
	$(BIN)/python benchmarks/bench_lobby.py
	$(BIN)/python benchmarks/bench_soak.py

# The config reference and example config, from kiosk/config/.
docs: $(STAMP)
	$(BIN)/python -m kiosk.config

# deploy/constraints.txt: the versions install.sh installs on a kiosk, those of this environment's run-time
# packages (it reinstalls them first when pyproject.toml changed). Run it after changing dependencies there.
constraints: $(STAMP)
	$(BIN)/python -m kiosk.cli.deploy constraints > deploy/constraints.txt.new
	mv deploy/constraints.txt.new deploy/constraints.txt

clean:
	rm -rf $(VENV) $(DEMO_OUT) tests/browser/node_modules tests/fhir-validator/node_modules
