# The two commands of the README. Both first run tools/setup_env.sh, which builds the virtual
# environment in .venv on the first run (about 12 minutes, mostly compiling mmcv) and returns
# in a second when nothing changed.
PYTHON := .venv/bin/python
DEMO_CONFIG := configs/demo/simmim_swinv2-demo_300it_skimage.py
DEMO_DIR := work_dirs/demo

.PHONY: env demo test

env:
	@bash tools/setup_env.sh

demo: env
	$(PYTHON) tools/misc/prepare_sample_images.py data/skimage_samples
	$(PYTHON) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_DIR)
	@echo
	@echo "Loss curve:      $(DEMO_DIR)/loss_curve.png"
	@echo "Reconstructions: $(DEMO_DIR)/reconstruction.png"

test: env
	# One process per core; tests/conftest.py gives each one torch thread.
	$(PYTHON) -m pytest -n auto --dist loadfile
