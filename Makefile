# Thin wrapper around scripts/: the two commands of the README.
#   make run   set up, build, run build/daemon/vsmtpd in the foreground
#   make test  set up, build, run the whole meson test suite

.PHONY: all setup build run test clean

all: build

setup:
	@bash scripts/setup.sh

build:
	@bash scripts/build.sh

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

clean:
	rm -rf build
