# Layerscope: `make run` opens the app on a built-in model, `make test` runs every test.
# Both install what is missing first (Debian/Ubuntu packages through apt-get, with sudo when not root).

GO       ?= go
BIN      := layerscope
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Fyne's cgo build needs a C compiler and the X11/OpenGL headers; the CPU compute path links OpenBLAS.
DEB_BUILD := gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev libopenblas-dev
# Tests of the real window need a virtual display, its GL driver, screenshots, window listing and keys.
DEB_TEST  := xvfb xauth imagemagick libgl1-mesa-dri x11-utils xdotool
FUZZTIME ?= 20s
# The config.json and tokenizer.json loaders get 10 s each, so make test fuzzes for under a minute.
FUZZTIME_LOADERS ?= 10s

.PHONY: run build test deps deps-test unit fuzz gui lint bench bench-cpu package clean

run: deps build
	./$(BIN)

build: deps
	$(GO) build -o $(BIN) .

# deps installs the Debian packages that are missing, and only those.
deps:
	@./.ci/install-debs $(DEB_BUILD)

deps-test: deps
	@./.ci/install-debs $(DEB_TEST)

test: deps-test lint unit fuzz gui

lint:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './third_party/*')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) build -tags nogui -o /dev/null . # the pure Go build (no cgo: no Fyne, no XLA) still compiles

unit:
	$(GO) test -count=1 ./...

# tools/fuzz/run.sh is `go test -fuzz`, less Go 1.26's false failure at the end of -fuzztime.
fuzz:
	GO=$(GO) tools/fuzz/run.sh FuzzReadHeader $(FUZZTIME) ./modelio/weights
	GO=$(GO) tools/fuzz/run.sh FuzzOpenConfig $(FUZZTIME_LOADERS) ./modelio
	GO=$(GO) tools/fuzz/run.sh FuzzLoad $(FUZZTIME_LOADERS) ./modelio/tokenizer

# gui starts the real app under Xvfb; LAYERSCOPE_REQUIRE_DISPLAY turns a missing display into a failure.
gui:
	LAYERSCOPE_REQUIRE_DISPLAY=1 xvfb-run -a -s "-screen 0 1280x800x24" $(GO) test -count=1 -run TestRealWindow -v ./app

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# bench-cpu runs the CPU compute path against PyTorch (Debian's python3-torch, OpenBLAS) side by side:
# minutes, and python3-torch is a large install.
bench-cpu: deps
	@./.ci/install-debs python3-torch python3-numpy libopenblas0
	tools/benchcpu/run.sh

# package builds the Linux desktop package (binary, icon, .desktop file) with Fyne's packager.
package: deps
	$(GO) install fyne.io/tools/cmd/fyne@latest
	$$($(GO) env GOPATH)/bin/fyne package --os linux --release

clean:
	rm -f $(BIN) Layerscope.tar.xz
