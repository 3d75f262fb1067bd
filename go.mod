module github.com/layerscope/layerscope

go 1.26.8

require (
	fyne.io/fyne/v2 v2.7.1 // indirect
	github.com/edsrzf/mmap-go v1.2.0 // indirect
	github.com/nlpodyssey/safetensors v0.0.0-20250209183917-bfb01cc25f7c // indirect
	golang.org/x/sys v0.30.0 // indirect
)
