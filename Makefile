# make run   — the registry on its embedded default: local directory ./registry-data, 127.0.0.1:5000
# make test  — every test, installing and starting what the tests need (S3 server, conformance suite, oras)
.PHONY: run test build

run:
	go run ./cmd/registry

test:
	scripts/test.sh

build:
	go build -o bin/ ./cmd/...
