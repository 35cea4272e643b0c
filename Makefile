# Everything from nothing: `make demo` and `make test` create .venv and install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   ?= demo-output

.PHONY: install web demo test test-fast bench accuracy continuous finetune lint docs clean system-deps

# The interpreter comes first: MediaPipe 0.10.21 needs Python 3.10-3.12 (tools/pick_python.sh
# finds one when python3 is newer, or stops with one line). A venv of another Python is remade.
$(STAMP): pyproject.toml requirements-lock.txt
	@if [ -x $(BIN)/python ] && ! sh tools/pick_python.sh --check $(BIN)/python; then \
		echo "signpose: $(VENV) holds an unsupported Python; making it again"; rm -rf $(VENV); fi
	@test -x $(BIN)/python || { py=$$(sh tools/pick_python.sh "$(PYTHON)") && echo "$$py -m venv $(VENV)" && $$py -m venv $(VENV); }
	@$(MAKE) --no-print-directory system-deps
	$(BIN)/python -m pip install -q --upgrade "pip>=23"
	# The lock pins what CI and the README figures were made with; pyproject holds the ranges.
	$(BIN)/python -m pip install -q -c requirements-lock.txt -e ".[dev,ray,serve]"
	touch $(STAMP)

# MediaPipe Holistic for the browser (the web app's landmarks mode), from the npm registry
# at build time and served by the app itself, never from a CDN. npm from Debian where missing.
HOLISTIC_VERSION := 0.5.1675471629
HOLISTIC_JS := src/signpose/serve/static/vendor/holistic
$(HOLISTIC_JS)/holistic.js:
	@command -v npm >/dev/null || { echo "installing npm"; apt-get update -qq && apt-get install -y -qq npm >/dev/null; }
	rm -rf build/npm && mkdir -p build/npm $(dir $(HOLISTIC_JS))
	cd build/npm && npm pack --silent @mediapipe/holistic@$(HOLISTIC_VERSION) >/dev/null && tar xzf mediapipe-holistic-$(HOLISTIC_VERSION).tgz
	rm -rf $(HOLISTIC_JS) && mv build/npm/package $(HOLISTIC_JS) && chmod -R a+rX $(HOLISTIC_JS)

# Swagger UI for the server's /docs, likewise from npm and served by the app (works offline).
SWAGGER_VERSION := 5.35.0
SWAGGER_UI := src/signpose/serve/static/vendor/swagger-ui
$(SWAGGER_UI)/swagger-ui-bundle.js:
	@command -v npm >/dev/null || { echo "installing npm"; apt-get update -qq && apt-get install -y -qq npm >/dev/null; }
	rm -rf build/npm-swagger && mkdir -p build/npm-swagger $(SWAGGER_UI)
	cd build/npm-swagger && npm pack --silent swagger-ui-dist@$(SWAGGER_VERSION) >/dev/null && tar xzf swagger-ui-dist-$(SWAGGER_VERSION).tgz
	cp build/npm-swagger/package/swagger-ui-bundle.js build/npm-swagger/package/swagger-ui.css \
		build/npm-swagger/package/favicon-32x32.png build/npm-swagger/package/LICENSE $(SWAGGER_UI)/
	chmod -R a+rX $(SWAGGER_UI)

# ONNX Runtime Web (the page classifying on the signer's device, and `export --web`): its
# single-threaded WebAssembly build only, likewise from npm, served from the site itself.
ORT_WEB_VERSION := 1.31.1
ORT_WEB := src/signpose/serve/static/vendor/ort
$(ORT_WEB)/ort.wasm.min.js:
	@command -v npm >/dev/null || { echo "installing npm"; apt-get update -qq && apt-get install -y -qq npm >/dev/null; }
	rm -rf build/npm-ort && mkdir -p build/npm-ort $(ORT_WEB)
	cd build/npm-ort && npm pack --silent onnxruntime-web@$(ORT_WEB_VERSION) >/dev/null && tar xzf onnxruntime-web-$(ORT_WEB_VERSION).tgz
	cp build/npm-ort/package/dist/ort-wasm-simd-threaded.wasm build/npm-ort/package/dist/ort-wasm-simd-threaded.mjs \
		build/npm-ort/package/dist/ort.wasm.min.js $(ORT_WEB)/
	chmod -R a+rX $(ORT_WEB)

# axe-core, for the tests' accessibility scan of the page (not served), likewise from npm.
AXE_VERSION := 4.11.0
AXE := build/npm-axe/package/axe.min.js
$(AXE):
	@command -v npm >/dev/null || { echo "installing npm"; apt-get update -qq && apt-get install -y -qq npm >/dev/null; }
	rm -rf build/npm-axe && mkdir -p build/npm-axe
	cd build/npm-axe && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null && tar xzf axe-core-$(AXE_VERSION).tgz

web: $(HOLISTIC_JS)/holistic.js $(SWAGGER_UI)/swagger-ui-bundle.js $(ORT_WEB)/ort.wasm.min.js

# A venv whose editable install points elsewhere (a moved checkout) is repaired, not trusted.
# The lite and heavy pose models (--model-complexity 0 and 2) from the npm package, by checksum,
# into mediapipe's folder: its wheel ships only `full`, and would download the others at run time.
install: $(STAMP) $(HOLISTIC_JS)/holistic.js $(SWAGGER_UI)/swagger-ui-bundle.js $(ORT_WEB)/ort.wasm.min.js $(AXE)
	@$(BIN)/python -c "import signpose" 2>/dev/null || { rm -f $(STAMP); $(MAKE) --no-print-directory $(STAMP); }
	@$(BIN)/python -m signpose.extract.pose_models $(HOLISTIC_JS) >/dev/null

# OpenCV (pulled in by MediaPipe) needs libGL and glib; the tests make rotated and long
# clips with ffmpeg. Each is installed only where missing.
system-deps:
	@if ! ldconfig -p | grep -q "libGL.so.1" || ! ldconfig -p | grep -q "libgthread-2.0.so.0"; then \
		echo "installing libgl1 and libglib2.0-0 for OpenCV"; \
		apt-get update -qq && apt-get install -y -qq libgl1 libglib2.0-0 >/dev/null; \
	fi
	@command -v ffmpeg >/dev/null || { echo "installing ffmpeg (the tests' video fixtures)"; \
		apt-get update -qq && apt-get install -y -qq ffmpeg >/dev/null; }

demo: install
	$(BIN)/signpose demo --out $(DEMO)

test: install
	$(BIN)/python -m pytest -q

# The inner loop while working: no training-length tests, no browser (under 2 minutes).
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not browser"

# Speed benchmarks only (minutes); the accuracy study is `make accuracy` (hours of CPU).
bench: install
	$(BIN)/python benchmarks/run_all.py

# On 22 + 6 real people and KArSL's two signers: every candidate (1 seed), the finalists (3 seeds), the rule's verdict.
accuracy: install
	$(BIN)/python benchmarks/bench_people.py

lint: install
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools

# The continuous-signing benchmark (trains what bench-output/ lacks: an hour or more of CPU),
# then the learned per-frame tagger measured on the same streams.
continuous: install
	$(BIN)/python benchmarks/bench_continuous.py
	$(BIN)/python benchmarks/bench_tagger.py

# docs/settings.md from the settings' declarations (a test fails when it is stale).
docs: install
	$(BIN)/python tools/docs_settings.py

clean:
	rm -rf $(VENV) $(DEMO) bench-output .pytest_cache build $(HOLISTIC_JS)

# Fine-tuning against training from scratch on new people's first takes (about an hour of CPU).
finetune: install
	$(BIN)/python benchmarks/bench_finetune.py
