# Everything from nothing: `make demo` and `make test` create .venv and install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   ?= demo-output

.PHONY: install demo test bench lint readme clean system-deps

$(STAMP): pyproject.toml requirements-lock.txt
	@$(MAKE) --no-print-directory system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=23"
	# The lock pins what CI and the README figures were made with; pyproject holds the ranges.
	$(BIN)/python -m pip install -q -c requirements-lock.txt -e ".[dev,ray]"
	touch $(STAMP)

# A venv whose editable install points elsewhere (a moved checkout) is repaired, not trusted.
install: $(STAMP)
	@$(BIN)/python -c "import signpose" 2>/dev/null || { rm -f $(STAMP); $(MAKE) --no-print-directory $(STAMP); }

# OpenCV (pulled in by MediaPipe) needs libGL and glib; install them only where missing.
system-deps:
	@if ! ldconfig -p | grep -q "libGL.so.1" || ! ldconfig -p | grep -q "libgthread-2.0.so.0"; then \
		echo "installing libgl1 and libglib2.0-0 for OpenCV"; \
		apt-get update -qq && apt-get install -y -qq libgl1 libglib2.0-0 >/dev/null; \
	fi

demo: install
	$(BIN)/signpose demo --out $(DEMO)

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/run_all.py

lint: install
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools

# The README's settings table, from the settings' declarations.
readme: install
	$(BIN)/python tools/readme_settings.py

clean:
	rm -rf $(VENV) $(DEMO) bench-output .pytest_cache
