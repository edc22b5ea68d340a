# The two commands of the README. Both first run tools/setup_env.sh, which builds the virtual
# environment in .venv on the first run (about 12 minutes, mostly compiling mmcv) and returns
# in a second when nothing changed.
PYTHON := .venv/bin/python
DEMO_CONFIG := configs/demo/simmim_swinv2-demo_600it_skimage-96px.py
DEMO_DIR := work_dirs/demo
LEARNING_CONFIG := configs/demo/simmim_swinv2-demo-w32_3000it_shapes.py
LEARNING_DIR := work_dirs/learning_check

.PHONY: env demo test learning-check

env:
	@bash tools/setup_env.sh

demo: env
	$(PYTHON) tools/misc/prepare_sample_images.py data/skimage_parts
	$(PYTHON) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_DIR)
	@echo
	@echo "Loss curve:      $(DEMO_DIR)/loss_curve.png"
	@echo "Reconstructions: $(DEMO_DIR)/reconstruction.png"

# Not in the test suite (about 20 minutes on 2 busy cores): a longer pre-training on the rendered
# shapes, its gain over predicting zero and the k-NN top-1 of its frozen features over time
# against its iteration-0 weights (docs/learning.md).
learning-check: env
	$(PYTHON) tools/misc/make_shapes.py data/shapes
	$(PYTHON) tools/train.py $(LEARNING_CONFIG) --work-dir $(LEARNING_DIR)
	$(PYTHON) tools/analysis/learning_check.py $(LEARNING_CONFIG) $(LEARNING_DIR)

test: env
	# One process per core; tests/conftest.py gives each one torch thread.
	$(PYTHON) -m pytest -n auto --dist loadfile
