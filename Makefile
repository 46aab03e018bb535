# Entry points; each script installs what it needs into its own .venv-* (see scripts/).
.PHONY: test demo bench

test:
	bash scripts/test.sh $(ARGS)

demo:
	bash scripts/demo.sh $(ARGS)

bench:
	bash scripts/bench.sh $(ARGS)
