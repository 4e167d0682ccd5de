# The two commands of the README: `make demo` (the main job) and `make test`.
# Both install what is missing first (apt packages, pip packages, Maven jars).
GO ?= go

.PHONY: demo test deps deps-test build vet fuzz clean golden

demo: deps build
	./bin/impact demo $(DEMO_ARGS)

test:
	bash scripts/test.sh

deps:
	bash scripts/deps.sh demo

deps-test:
	bash scripts/deps.sh test

build:
	$(GO) build -o bin/impact ./cmd/impact

vet:
	$(GO) vet ./...

# golden rewrites every golden file: the packages whose tests use
# internal/golden (directly or through sourcetest) run with -update, which
# the other test binaries do not know.
golden:
	$(GO) test -p 1 $$($(GO) list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... | grep -E ' .*(internal/golden|sources/sourcetest)' | cut -d' ' -f1) -update

clean:
	rm -rf bin out
