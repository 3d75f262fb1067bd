// Package config reads a Hugging Face config.json into typed lookups.
//
// config.json files differ between families and between transformers versions (gpt2 says n_embd where
// llama says hidden_size; a key may be absent, null or of the wrong type), so families read it through
// these getters, which remember the first type error and quote the Hugging Face key in it.
package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/layerscope/layerscope/modelio/safefile"
)

// Config is a parsed config.json.
type Config struct {
	// Path is where it was read from ("" for an embedded gallery config), used in error messages.
	Path string
	raw  map[string]any
	err  error
	// parent receives the errors of a nested object (rope_scaling), so one Err covers the whole file.
	parent *Config
	prefix string // "rope_scaling." inside a nested object
}

// Parse reads config.json bytes. path only names the file in errors.
func Parse(path string, data []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep integers exact: vocab sizes and token ids must not pass through float64
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %v", path, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("%s: invalid JSON: expected an object, got null", path)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: invalid JSON: unexpected data after the top-level object", path)
	}
	return &Config{Path: path, raw: raw}, nil
}

// ReadFile reads and parses a config.json file: a regular file of at most safefile.MaxConfigBytes.
func ReadFile(path string) (*Config, error) {
	data, err := safefile.ReadFile(path, safefile.MaxConfigBytes)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// FromMap builds a Config from already decoded values (tests use it).
func FromMap(path string, raw map[string]any) *Config {
	return &Config{Path: path, raw: raw}
}

// Err returns the first type error met by a getter, naming the file and the key.
func (c *Config) Err() error { return c.root().err }

func (c *Config) root() *Config {
	for c.parent != nil {
		c = c.parent
	}
	return c
}

func (c *Config) fail(key, want string, v any) {
	if r := c.root(); r.err == nil {
		r.err = fmt.Errorf("%s: %s%s must be %s, got %s", c.Path, c.prefix, key, want, describe(v))
	}
}

// Errorf records a validation error (a family's own check) unless one is already recorded.
func (c *Config) Errorf(format string, args ...any) {
	if r := c.root(); r.err == nil {
		r.err = fmt.Errorf("%s: %s", c.Path, fmt.Sprintf(format, args...))
	}
}

func describe(v any) string {
	b, err := json.Marshal(v)
	if err != nil || len(b) > 60 {
		return fmt.Sprintf("a %T", v)
	}
	return string(b)
}

// Has reports whether key is present and not null.
func (c *Config) Has(key string) bool {
	v, ok := c.raw[key]
	return ok && v != nil
}

// Present reports whether key appears at all, null included. Some config classes give an absent key
// its default but a null one its own meaning (Gemma 3's pad_token_id: 0 when absent, none when null).
func (c *Config) Present(key string) bool {
	_, ok := c.raw[key]
	return ok
}

// Raw returns the decoded value of key (json.Number for numbers), or nil.
func (c *Config) Raw(key string) any { return c.raw[key] }

// Int returns key as an integer, or def when it is absent or null.
func (c *Config) Int(key string, def int) int {
	v, ok := c.raw[key]
	if !ok || v == nil {
		return def
	}
	n, ok := toInt(v)
	if !ok {
		c.fail(key, "an integer", v)
		return def
	}
	return n
}

// FirstInt returns the first of keys that is present (gpt2's n_embd before hidden_size), or def.
func (c *Config) FirstInt(def int, keys ...string) int {
	for _, k := range keys {
		if c.Has(k) {
			return c.Int(k, def)
		}
	}
	return def
}

func toInt(v any) (int, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	if i, err := strconv.ParseInt(string(num), 10, 64); err == nil {
		return int(i), true
	}
	// 1e4 or 2048.0 are integers written as floats; accept them when exact.
	f, err := num.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int(f), true
}

// Float returns key as a float, or def when it is absent or null.
func (c *Config) Float(key string, def float64) float64 {
	v, ok := c.raw[key]
	if !ok || v == nil {
		return def
	}
	num, ok := v.(json.Number)
	if !ok {
		c.fail(key, "a number", v)
		return def
	}
	f, err := num.Float64()
	if err != nil {
		c.fail(key, "a number", v)
		return def
	}
	return f
}

// String returns key as a string, or def when it is absent or null.
func (c *Config) String(key, def string) string {
	v, ok := c.raw[key]
	if !ok || v == nil {
		return def
	}
	s, ok := v.(string)
	if !ok {
		c.fail(key, "a string", v)
		return def
	}
	return s
}

// Bool returns key as a boolean, or def when it is absent or null.
func (c *Config) Bool(key string, def bool) bool {
	v, ok := c.raw[key]
	if !ok || v == nil {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		c.fail(key, "true or false", v)
		return def
	}
	return b
}

// Strings returns key as a list of strings, or nil when it is absent or null.
func (c *Config) Strings(key string) []string {
	v, ok := c.raw[key]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		c.fail(key, "a list of strings", v)
		return nil
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			c.fail(key, "a list of strings", v)
			return nil
		}
		out[i] = s
	}
	return out
}

// Ints returns key as a list of integers, or nil when it is absent or null.
func (c *Config) Ints(key string) []int {
	v, ok := c.raw[key]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		c.fail(key, "a list of integers", v)
		return nil
	}
	out := make([]int, len(list))
	for i, e := range list {
		n, ok := toInt(e)
		if !ok {
			c.fail(key, "a list of integers", v)
			return nil
		}
		out[i] = n
	}
	return out
}

// Floats returns key as a list of numbers, or nil when it is absent or null.
func (c *Config) Floats(key string) []float64 {
	v, ok := c.raw[key]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		c.fail(key, "a list of numbers", v)
		return nil
	}
	out := make([]float64, len(list))
	for i, e := range list {
		num, ok := e.(json.Number)
		f, err := num.Float64()
		if !ok || err != nil {
			c.fail(key, "a list of numbers", v)
			return nil
		}
		out[i] = f
	}
	return out
}

// Sub returns key as a nested object (rope_scaling), or nil when it is absent or null.
func (c *Config) Sub(key string) *Config {
	v, ok := c.raw[key]
	if !ok || v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		c.fail(key, "an object", v)
		return nil
	}
	return &Config{Path: c.Path, raw: m, parent: c, prefix: c.prefix + key + "."}
}

// With returns a copy of c with the top-level key set to value, a value as this package decodes JSON
// (json.Number, string, bool, []any, map[string]any, nil); c itself is unchanged. A pruned model's
// config is its source's with a few keys changed, and the source must stay as it was opened.
func (c *Config) With(key string, value any) *Config {
	raw := make(map[string]any, len(c.raw)+1)
	for k, v := range c.raw {
		raw[k] = v
	}
	raw[key] = value
	return &Config{Path: c.Path, raw: raw}
}

// Keys returns the number of top-level keys (for tests and diagnostics).
func (c *Config) Keys() int { return len(c.raw) }
