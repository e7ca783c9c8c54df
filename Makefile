# Nimbus build and test entry points. `make run` and `make test` are all a
# fresh machine needs.
GO       ?= go
BIN      := bin/nimbus
FUZZTIME ?= 30s
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build run test deps vet bench fuzz soak clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/nimbus

# Builds and starts the server with the embedded default configuration.
run: build
	./$(BIN) serve

# Tools the interop tests drive, from Debian's packages: ffmpeg/ffprobe,
# rtmpdump (librtmp, the RTMPE client), chromium for the admin dashboard's
# headless browser test, and a C++ toolchain with OpenSSL for the Flash-like
# RTMFP client (librtmfp), which the tests build once into a cache outside
# the clone.
deps:
	@command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || { \
		echo "installing ffmpeg"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq ffmpeg >/dev/null; }
	@command -v rtmpdump >/dev/null || { \
		echo "installing rtmpdump"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq rtmpdump >/dev/null; }
	@command -v chromium >/dev/null || { \
		echo "installing chromium"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	@command -v gst-launch-1.0 >/dev/null && gst-inspect-1.0 rtmp2src >/dev/null 2>&1 || { \
		echo "installing gstreamer (rtmp2src, GStreamer's RTMP client, plays recordings in the tests)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq gstreamer1.0-tools gstreamer1.0-plugins-bad >/dev/null; }
	@command -v g++ >/dev/null && [ -f /usr/include/openssl/evp.h ] || { \
		echo "installing build-essential libssl-dev (the Flash-like RTMFP client, built by ../shared/peers/flashlike/build.sh)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq build-essential libssl-dev >/dev/null; }
	@command -v ip >/dev/null && command -v tc >/dev/null || { \
		echo "installing iproute2 (network namespaces for the RTMFP/TCP fairness test)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq iproute2 >/dev/null; }

# Vets for Windows and macOS too, so that Unix-only code (socket options
# in test helpers) cannot slip into files every platform builds.
vet:
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	GOOS=darwin $(GO) vet ./...

test: deps vet
	$(GO) test -race -p 1 -timeout 25m ./...
	# The server's suite again with the I/O engine's parts off (the epoll
	# poller for quiet readers, io_uring send batches), so both paths stay
	# tested; the test server reads these two switches from the environment.
	NIMBUS_RTMP_POLLER=false NIMBUS_MEDIA_IO_URING=false $(GO) test -race -p 1 -timeout 10m ./server
	# Allocation counts mean nothing under -race (sync.Pool drops items
	# at random there), so the zero-allocation tests run again without it.
	$(GO) test -run 'Allocs' ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Runs every fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# 30 minutes of players joining and leaving on both protocols and
# publishers reconnecting (SOAK_DURATION to change); not part of CI.
SOAK_DURATION ?= 30m
soak:
	SOAK_DURATION=$(SOAK_DURATION) $(GO) test -tags soak -run '^TestSoak$$' -timeout 0 -v ./server

clean:
	rm -rf bin
