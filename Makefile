# The two commands of the README. Both first run tools/setup_env.sh, which builds the virtual
# environment in .venv on the first run (about 12 minutes, mostly compiling mmcv) and returns
# in a second when nothing changed.
PYTHON := .venv/bin/python
DEMO_CONFIG := configs/demo/simmim_swinv2-demo_600it_patterns-96px.py
DEMO_DIR := work_dirs/demo
LEARNING_CONFIG := configs/demo/simmim_swinv2-demo-w32_20000it_patterns.py
LEARNING_DIR := work_dirs/learning_check

.PHONY: env demo test learning-check

env:
	@bash tools/setup_env.sh

demo: env
	$(PYTHON) tools/misc/make_patterns.py data/patterns-96px --size 96 --pool 1000 \
		--train-per-class 4 --val-per-class 4
	$(PYTHON) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_DIR)
	@echo
	@echo "Loss curve:      $(DEMO_DIR)/loss_curve.png"
	@echo "Reconstructions: $(DEMO_DIR)/reconstruction.png"

# Not in the test suite (about 23 minutes on 2 quiet cores): a longer pre-training on the rendered
# patterns, its gain over predicting zero and the k-NN top-1 of its frozen features over time
# against its iteration-0 weights (docs/learning.md).
learning-check: env
	$(PYTHON) tools/misc/make_patterns.py data/patterns
	$(PYTHON) tools/train.py $(LEARNING_CONFIG) --work-dir $(LEARNING_DIR)
	$(PYTHON) tools/analysis/learning_check.py $(LEARNING_CONFIG) $(LEARNING_DIR)

test: env
	# One process per core; tests/conftest.py gives each one torch thread.
	$(PYTHON) -m pytest -n auto --dist loadfile
