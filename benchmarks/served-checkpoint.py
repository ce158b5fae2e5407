"""A random-weight checkpoint made servable: the folder of a Hugging Face checkpoint without a tokenizer (such as
the fm-130m that ../shared/tools/llama-cpp-peer.sh writes) linked into OUT, with the demo model's byte-level BPE
tokenizer padded to the checkpoint's vocabulary (ids past the demo's own decode as placeholder words "w<id>").
Weights of random value serve at the speed of trained ones, so LoadTest and ChatTurnsBench can measure a model of
that shape through the HTTP server.

Usage: python3 benchmarks/served-checkpoint.py CHECKPOINT_DIR OUT_DIR
"""
import json, os, shutil, sys

src, out = (os.path.abspath(p) for p in sys.argv[1:3])
demo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "test", "models", "demo-kjv")
vocab_size = json.load(open(os.path.join(src, "config.json")))["vocab_size"]
os.makedirs(out, exist_ok=True)
for name in os.listdir(src):
    if name == "config.json" or name.endswith(".safetensors") or name.endswith(".json") and "index" in name:
        link = os.path.join(out, name)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.join(src, name), link)
for name in ("tokenizer_config.json", "generation_config.json"):
    shutil.copy(os.path.join(demo, name), out)
tokenizer = json.load(open(os.path.join(demo, "tokenizer.json")))
vocab = tokenizer["model"]["vocab"]
if len(vocab) > vocab_size:
    sys.exit(f"the demo tokenizer has {len(vocab)} tokens, more than the checkpoint's vocabulary of {vocab_size}")
for i in range(len(vocab), vocab_size):
    vocab["\u0120w%d" % i] = i  # "\u0120" is the byte-level BPE's space
json.dump(tokenizer, open(os.path.join(out, "tokenizer.json"), "w"))
print(f"{out}: {src} with the demo tokenizer padded to {vocab_size} ids")
