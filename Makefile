# The two commands of the README: `make demo` (the main job) and `make test`.
# Both install what is missing first (apt packages, pip packages, Maven jars).
GO ?= go

.PHONY: demo test deps deps-test build vet fuzz clean

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

clean:
	rm -rf bin out
