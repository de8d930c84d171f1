# stagecraft developer commands. `make help` lists them.
#
# jsii starts Node.js under every Go program and test; Node 20, the version
# on our machines, is past its end of life and jsii would print a large
# banner on every run. This is jsii's documented switch to silence it.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

GO        ?= go
STATICCHECK_VERSION := v0.8.2
# Our packages. Not ./...: node_modules/ holds a Go package of its own.
PKGS        := ./constructs/... ./apps/... ./internal/...
# Packages whose tests compare with golden files under testdata/.
GOLDEN_PKGS := ./constructs/... ./apps/...

.PHONY: help setup synth cdk8s-synth test update fuzz lint check e2e clean

FUZZTIME ?= 20s
FUZZ_TARGETS := FuzzProcessor FuzzBatch FuzzScheduled FuzzStorage

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

setup: node_modules/.package-lock.json ## install the pinned tools (cdk8s CLI) and Go modules
	$(GO) mod download

synth: ## synthesize every app under apps/ into dist/
	$(GO) run ./internal/synthall

cdk8s-synth: setup ## synthesize through the pinned cdk8s CLI (same result as synth)
	npx --no-install cdk8s synth

test: ## run every test (unit, golden, examples, validation)
	$(GO) test -count=1 $(PKGS)

update: ## rewrite golden files from the current code; review the diff before committing
	$(GO) test -count=1 $(GOLDEN_PKGS) -update

fuzz: ## fuzz every construct's props for FUZZTIME each (default 20s)
	@for f in $(FUZZ_TARGETS); do \
		echo "fuzzing $$f for $(FUZZTIME)"; \
		$(GO) test ./constructs/stagecraft -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^imports/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

check: lint test ## lint, test, synth, and fail if dist/ differs from what is committed
	$(MAKE) synth
	@git diff --exit-code --stat -- dist/ || { echo "dist/ is out of date: run 'make synth' and commit it"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- dist/); if [ -n "$$untracked" ]; then echo "untracked files in dist/:"; echo "$$untracked"; exit 1; fi

e2e: ## apply dist/ to a real control plane built from source (slow the first time)
	bash test/e2e/run.sh

clean: ## remove build output and the cdk8s CLI's scratch directory
	rm -rf .cdk8s.out bin
