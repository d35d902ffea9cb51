# vipar: two commands do all set-up.  `make reproduce` (demo profile) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.vipar-installed
# GPU users: make TORCH_INDEX=https://download.pytorch.org/whl/cu128 ...
TORCH_INDEX ?=
PIP_EXTRA := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX),)
PROFILE ?= demo

.PHONY: setup reproduce test test-full lab bench clean-reports

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check $(PIP_EXTRA) -r requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m vipar_lib.report.kernel    # kernels on IPC sockets, no JupyterLab news prompt
	touch $(STAMP)

# the demo, then Table 1 under the release reading (reports/demo-release/)
reproduce: $(STAMP)
	$(BIN)/vipar reproduce --profile $(PROFILE)
	$(if $(filter demo,$(PROFILE)),$(BIN)/vipar reproduce --profile demo-release --only 01_module_ablations,)

test: $(STAMP)
	$(BIN)/ruff check vipar_lib tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/nbstripout --verify notebooks/*.ipynb
	$(BIN)/python -m pytest -q -p no:cacheprovider tests
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax notebooks

# every notebook of the GPU profiles at full model size on 2+2+2 generated videos (shape/config errors)
test-full: test
	$(BIN)/vipar reproduce --profile ucf101 --dry-run
	$(BIN)/vipar reproduce --profile ucf101-release --dry-run

# root in a container is the normal case: JupyterLab refuses it without --allow-root
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root,)

bench: $(STAMP)
	$(BIN)/python benchmarks/data_pipeline.py
	$(BIN)/python benchmarks/train_step.py

clean-reports:
	rm -rf reports/$(PROFILE)
