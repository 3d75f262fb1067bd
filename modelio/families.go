package modelio

// Every family registers itself; adding one is a package under family/ and a line here.
import (
	_ "github.com/layerscope/layerscope/modelio/family/gemma3"
	_ "github.com/layerscope/layerscope/modelio/family/gpt2"
	_ "github.com/layerscope/layerscope/modelio/family/gptneox"
	_ "github.com/layerscope/layerscope/modelio/family/llama"
	_ "github.com/layerscope/layerscope/modelio/family/mixtral"
	_ "github.com/layerscope/layerscope/modelio/family/opt"
	_ "github.com/layerscope/layerscope/modelio/family/phi"
	_ "github.com/layerscope/layerscope/modelio/family/phi3"
	_ "github.com/layerscope/layerscope/modelio/family/qwen3"
	_ "github.com/layerscope/layerscope/modelio/family/qwen3moe"
)
