# Thin wrappers: the scripts are the real thing (and what CI tests).
.PHONY: dist test
dist:
	bash scripts/dist.sh
test:
	bash e2e/test.sh
