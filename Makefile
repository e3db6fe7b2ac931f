# The two commands of the README: `make demo` and `make test`.
# Both install what they need first: Debian packages (apt-get, through sudo when not root),
# a virtual environment in .venv, and the project into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo-out

.PHONY: demo test bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml deploy/system-packages.sh
	sh deploy/system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	@if [ -z "$$DISPLAY" ] && [ -z "$$WAYLAND_DISPLAY" ]; then \
		echo "No display found, so the demo walks sample patients through the kiosk headless and writes the screenshots to $(DEMO_OUT)/."; \
		$(BIN)/kiosk demo --headless --out $(DEMO_OUT); \
	else \
		$(BIN)/kiosk demo; \
	fi

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) $(DEMO_OUT)
