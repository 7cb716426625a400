# paperboy: `make run` starts the bot, `make test` runs `make lint` and the suite, `make bench`
# the benchmarks.
# Each target creates .venv on first use (python3 >= 3.11 is all it needs).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The dev tools (pytest, ruff, mypy, ...) for test, lint and bench; `make run` needs only
# the runtime (RUN_STAMP), and is content with a venv that has the dev tools too.
STAMP     := $(VENV)/.installed-stamp
RUN_STAMP := $(VENV)/.runtime-stamp

.PHONY: run test bench lint fmt clean container-test

# $(call install,SPEC): pip install SPEC into the venv (a shell command); on failure one
# line saying what could not be installed (offline, a proxy, no PyPI) and where pip's log is.
install = $(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "paperboy needs Python 3.11 or newer")' \
	&& { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); } \
	&& echo "installing paperboy $(1) into $(VENV) (pip's log: $(VENV)/install.log)" \
	&& { $(BIN)/python -m pip install --quiet --disable-pip-version-check -e '$(1)' >$(VENV)/install.log 2>&1 \
	  || { missing=$$(sed -n 's/.*No matching distribution found for \([^ ]*\).*/\1/p' $(VENV)/install.log | head -n 1); \
	       echo "make: cannot install paperboy: $${missing:-a package} could not be downloaded (no network or no access to PyPI?); pip's log: $(VENV)/install.log" >&2; \
	       exit 1; }; }

$(STAMP): pyproject.toml
	@$(call install,.[dev])
	@touch $@ $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml
	@if [ -f $(STAMP) ] && [ $(STAMP) -nt pyproject.toml ]; then touch $@; else $(call install,.); fi
	@touch $@

run: $(RUN_STAMP)
	@$(BIN)/paperboy migrate --quiet
	@$(BIN)/paperboy run

# Tests run on every core (pytest-xdist); PYTEST_WORKERS=0 runs them in this one process.
PYTEST_WORKERS ?= auto

test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The image, `paperboy --help` and `migrate` in it, and compose.yaml up until the bot's
# /readyz answers (podman, Debian base made with mmdebstrap; root or sudo; several
# minutes). Not part of `make test`; CI runs it after.
container-test:
	bash .ci/container-test

bench: $(STAMP)
	$(BIN)/python bench/matching.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/relevance_feedback.py
	$(BIN)/python bench/relevance.py
	$(BIN)/python bench/trends.py

# ruff; import-linter (the layers of docs/design.md, [tool.importlinter]); mypy. mypy cannot
# follow the editable install's import hook and the folders are not named as the packages,
# so it reads them through .typecheck/, symlinks under the import names.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	@mkdir -p .typecheck
	@ln -sfn ../bot .typecheck/paperboy
	@ln -sfn ../adapters .typecheck/paperboy_adapters
	@ln -sfn ../config .typecheck/paperboy_config
	cd .typecheck && ../$(BIN)/mypy --config-file ../pyproject.toml --python-executable ../$(BIN)/python \
		-p paperboy -p paperboy_adapters -p paperboy_config

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .typecheck paperboy.db
