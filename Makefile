# Everything a developer runs. `make run` and `make test` do their own set-up.
SHELL := /bin/bash
GO ?= go
AZURITE := node_modules/.bin/azurite

.PHONY: all bin build app package zip run bench-e2e test test-race faults-long test-short bench fuzz lint fmt tidy-check clean azurite check-infra deploy destroy

all: build

# Azurite and tree-sitter-bicep (check-infra), pinned in package.json / package-lock.json, installed into the project.
$(AZURITE): package.json package-lock.json
	@echo "installing Azurite and tree-sitter-bicep into node_modules/ (npm ci; once, under a minute)"
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(AZURITE)
azurite: $(AZURITE)

# One set of build flags for everything built here, so the handler, the CLI and
# `go build ./...` share one build cache. bin/ holds them for this computer's OS
# and architecture.
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath
EXE := $(shell $(GO) env GOEXE)
FIRST_BUILD := (the first build compiles every dependency: a few minutes on 2 cores)

bin:
	@echo "building bin/: handler, batchscore, funcapp $(FIRST_BUILD)"
	@$(GOBUILD) -o bin/ ./handler ./cmd/batchscore ./cmd/funcapp

build: bin
	$(GOBUILD) ./...

# app/ is the function app folder for func start on this computer (its own OS and
# architecture; handler.exe on Windows), with local.settings.json pointing at
# Azurite; dist/ (make package) is the linux/amd64 folder for Azure. This target
# builds only what func start needs, so it works on macOS and Windows too.
LAYOUT_APP = bin/funcapp$(EXE) -handler bin/handler$(EXE) -out app
app:
	@echo "building bin/: handler, funcapp $(FIRST_BUILD)"
	@$(GOBUILD) -o bin/ ./handler ./cmd/funcapp
	@$(LAYOUT_APP)

# dist/ is the app folder the Functions host runs in Azure: host.json, the linux/amd64 handler,
# local.settings.sample.json and one <function>/function.json per function at the top level
# (every functions/*/function.json), laid out by cmd/funcapp as make app does.
package:
	@$(GOBUILD) -o bin/ ./cmd/funcapp
	@bin/funcapp$(EXE) -goos linux -goarch amd64 -local=false -out dist
	@echo "dist/ ready: the linux/amd64 app folder for Azure (make zip packs it; make deploy deploys it). For func start on this computer: make app"

# dist.zip is the package Azure runs (make deploy: run from a private blob, docs/deploy.md): host.json, the handler stored
# with its executable bit, <function>/function.json; local.settings*.json and databases are left out.
zip: package bin
	bin/batchscore$(EXE) zip -app dist -out dist.zip

# The whole pipeline on this computer (Linux: the local host and Azurite runner
# use Linux process control).
run: $(AZURITE) bin
	@$(LAYOUT_APP)
	@bin/batchscore$(EXE) run -app app -azurite $(AZURITE)

# The synthetic fleet through the local pipeline next to Azurite's and SQLite's own rates for the same
# work (docs/speed.md, "End to end"); BENCH_ARGS adds flags, e.g. BENCH_ARGS='-set FANOUT_CHUNK_SIZE=20'.
bench-e2e: $(AZURITE) bin
	@$(LAYOUT_APP)
	@bin/batchscore$(EXE) bench-e2e -app app -azurite $(AZURITE) $(BENCH_ARGS)

# gotestsum (pinned) runs go test and ends with a summary: the skipped tests with
# their reasons, the failures, "DONE N tests, N skipped, N failures in T", and
# "N passed, N failed, N skipped, N package errors"; its exit status is go test's.
GOTESTSUM := bin/gotestsum-v1.13.0$(EXE)
$(GOTESTSUM):
	@echo "installing gotestsum v1.13.0 into bin/ (once)"
	@mkdir -p bin && GOBIN=$(CURDIR)/bin/.gotestsum $(GO) install gotest.tools/gotestsum@v1.13.0
	@mv bin/.gotestsum/gotestsum$(EXE) $@ && rmdir bin/.gotestsum

test: $(AZURITE) $(GOTESTSUM) check-infra
	$(GO) vet ./...
	AZURITE_BIN=$(CURDIR)/$(AZURITE) $(GOTESTSUM) --format pkgname-and-test-fails --format-hide-empty-pkg \
	  --post-run-command 'bash -c "echo $$((TESTS_TOTAL - TESTS_FAILED - TESTS_SKIPPED)) passed, $$TESTS_FAILED failed, $$TESTS_SKIPPED skipped, $$TESTS_ERRORS package errors"' \
	  -- -count=1 -timeout 15m ./...

# Azure (docs/deploy.md): resource group, Bicep, the package, the models, the SQL user. Needs the az CLI
# (signed in) and go-sqlcmd; neither runs in CI, where check-infra is what is tested.
# ENV=dev|prod, RG, LOCATION, MODELS=folder of models (default: the reference's 15 pickles).
deploy: zip
	infra/deploy.sh deploy

destroy:
	infra/deploy.sh destroy

# infra/bicep without the Bicep compiler or Azure: syntax (tree-sitter-bicep), property names (Azure SDK
# for Go models), app settings vs the handler and function.json, role GUIDs, no secrets. infra/check is a
# Go module of its own (the Azure models stay out of the handler's build), so `go test ./...` skips it.
check-infra: $(AZURITE)
	$(GO) -C infra/check vet ./...
	$(GO) -C infra/check run . -root ../..
	$(GO) -C infra/check test -count=1 ./...

# The same suite under the race detector (slower; not part of CI).
test-race: $(AZURITE)
	AZURITE_BIN=$(CURDIR)/$(AZURITE) $(GO) test -race -count=1 -timeout 20m ./...

# The fault matrix (docs/reliability.md) on all the reference data, each row FAULTS_REPEAT
# times (default 5); make test runs it once on two hours of the data. Not part of CI.
FAULTS_REPEAT ?= 5
faults-long: $(AZURITE)
	set -o pipefail; AZURITE_BIN=$(CURDIR)/$(AZURITE) FAULTS_FULL=1 FAULTS_REPEAT=$(FAULTS_REPEAT) \
	  $(GO) test -count=1 -timeout 90m -run '^TestFault' -v ./internal/localrun/ | grep -E '^(---|ok|FAIL)|FAULTS \|'

test-short:
	$(GO) test -short -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/svm/
	$(GO) run ./cmd/batchscore bench

# Every fuzz target, seeded with the real files in testdata/, for FUZZTIME each (short runs; longer by hand).
FUZZTIME ?= 15s
FUZZ_PKGS := ./internal/svm/ ./internal/pickle/ ./internal/azfunc/ ./cmd/batchscore/ ./functions/ingest/
fuzz:
	@for p in $(FUZZ_PKGS); do \
	  for t in $$($(GO) test -list '^Fuzz' $$p | grep ^Fuzz); do \
	    echo "== $$p $$t"; \
	    $(GO) test $$p -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s || exit 1; done; done

# The scikit-learn / numpy / joblib model matrix (internal/svm/testdata/versions): one cached venv per
# version set, from the Python package index. Never needed by the tests, which read the committed files.
.PHONY: model-matrix
model-matrix:
	internal/svm/testdata/versions/make_matrix.sh $(SETS)

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

fmt:
	gofmt -s -w $$(git ls-files '*.go')

tidy-check:
	$(GO) mod tidy -diff
	$(GO) -C infra/check mod tidy -diff

clean:
	rm -rf dist dist.zip app bin out
