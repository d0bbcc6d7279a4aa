# The two commands of the README, plus the benchmarks. Each target does its own set-up.
.PHONY: setup test demo bench lint

setup:
	@bash scripts/setup.sh

test: setup
	@node scripts/run-tests.mjs

demo: setup
	@node dist/src/cli/main.js demo

bench: setup
	@node dist/bench/run.js
