"""One-shot API: Embedder backends, Gallery editing, ranking, open-set decisions, save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from crossglg.checkpoint import save_checkpoint
from crossglg.embedding import TorchBackend
from crossglg.models import build_model
from crossglg.oneshot import UNKNOWN, Embedder, Gallery, GalleryError

torch.set_num_threads(1)  # 2 threads on a shared 2-core box thrash badly
CONFIG = {"encoder": "infogcn", "num_classes": 3, "width": 0.25, "depth": 3}


def unit(*values):
    v = np.asarray(values, np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(CONFIG).eval()


@pytest.fixture(scope="module")
def windows():
    return np.random.default_rng(0).normal(size=(5, 3, 60, 25, 2)).astype(np.float32)


def test_embedder_from_model_and_checkpoint_agree(model, windows, tmp_path):
    direct = Embedder(model)
    emb = direct.embed(windows)
    assert emb.shape == (5, model.embed_dim) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    # batching does not change results
    small_batches = Embedder(TorchBackend(model, batch_size=2))
    np.testing.assert_allclose(small_batches.embed(windows), emb, rtol=1e-4, atol=1e-5)
    # a single window is promoted to a batch of one
    np.testing.assert_allclose(direct.embed(windows[0]), emb[:1], rtol=1e-4, atol=1e-5)
    path = save_checkpoint(tmp_path / "ckpt", model, classes=["a", "b", "c"])
    from_ckpt = Embedder(path)
    assert from_ckpt.model_hash == direct.model_hash and from_ckpt.dim == direct.dim == model.embed_dim
    np.testing.assert_allclose(from_ckpt.embed(windows), emb, rtol=1e-4, atol=1e-5)


def test_embedding_a_training_model_leaves_it_in_training_mode(windows):
    model = build_model(CONFIG).train()
    emb = Embedder(model).embed(windows[:2])
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    np.testing.assert_allclose(Embedder(model).embed(windows[:2]), emb, rtol=1e-4, atol=1e-5)


class ScaledBackend:
    """A backend that is not torch's: it knows its size and hash and returns unnormalised rows."""

    def __init__(self, model, dim=None):
        self.branch = model.skeleton_branch().eval()
        self.dim = dim or model.embed_dim
        self.model_hash = "custom"
        self.calls = 0

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        with torch.no_grad():
            out = (self.branch(torch.from_numpy(batch)) * 3.0).numpy()
        return out[:, : self.dim] if self.dim < out.shape[1] else out


def test_embedder_takes_a_backend_as_is(model, windows):
    backend = ScaledBackend(model)
    embedder = Embedder(backend)
    assert embedder.backend is backend and (embedder.dim, embedder.model_hash) == (model.embed_dim, "custom")
    np.testing.assert_allclose(embedder.embed(windows), Embedder(model).embed(windows), rtol=1e-4, atol=1e-5)
    assert embedder.embed(windows[:0]).shape == (0, model.embed_dim) and backend.calls == 1
    with pytest.raises(ValueError, match="backend returned shape"):
        Embedder(ScaledBackend(model, dim=model.embed_dim + 1)).embed(windows)
    with pytest.raises(TypeError, match="EmbeddingBackend"):
        Embedder(lambda b: np.zeros((len(b), 7), np.float32))  # a bare callable knows no dim or hash


def test_embedder_hash_follows_a_model_in_training(model, windows):
    """The torch runner hashes the weights as they are when asked, so a gallery built mid-training is
    keyed by the weights that embedded it."""
    trained = build_model(CONFIG).eval()
    trained.load_state_dict(model.state_dict())
    embedder = Embedder(trained)
    before = embedder.model_hash
    assert before == Embedder(model).model_hash
    with torch.no_grad():
        trained.jid.position.add_(0.1)
    assert embedder.model_hash != before


def test_embedder_rejects_bad_windows(model):
    embedder = Embedder(model)
    with pytest.raises(ValueError, match=r"shape \(N, 3, 60, 25, 2\)"):
        embedder.embed(np.zeros((2, 3, 60, 20, 2), np.float32))
    nan = np.zeros((1, 3, 60, 25, 2), np.float32)
    nan[0, 0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in batch item\(s\) \[0\]"):
        embedder.embed(nan)
    with pytest.raises(TypeError, match="numpy array"):
        embedder.embed(torch.zeros(1, 3, 60, 25, 2))


def test_gallery_editing_prototypes_and_ranking():
    g = Gallery()
    g.add("wave", np.stack([unit(1, 0, 0), unit(1, 1, 0)]), source="rec1.csv")
    g.add("clap", unit(0, 0, 1) * 5)  # stored normalised
    g.add("wave", unit(1, -1, 0))
    assert g.counts() == {"wave": 3, "clap": 1}
    names, protos = g.prototypes()
    assert names == ["wave", "clap"]
    np.testing.assert_allclose(protos[0], unit(1, 0, 0), atol=1e-6)  # mean of the normalised rows
    ranking = g.rank(unit(1, 0, 0.1))
    assert [n for n, _ in ranking] == ["wave", "clap"] and ranking[0][1] > 0.99
    assert g.rank(unit(0, 0, 1), k=1) == [("clap", pytest.approx(1.0))]
    g.rename("clap", "applause")
    assert g.classes == ["wave", "applause"]
    g.remove("wave", index=0)
    assert g.counts()["wave"] == 2
    g.remove("applause")
    assert g.classes == ["wave"]
    with pytest.raises(ValueError, match="reserved"):
        g.add(UNKNOWN, unit(1, 0, 0))
    with pytest.raises(ValueError, match="3-d"):
        g.add("x", np.ones(4, np.float32))
    with pytest.raises(KeyError, match="no class 'nope'"):
        g.remove("nope")


def test_open_set_decision_threshold_and_margin():
    g = Gallery()
    g.add("a", unit(1, 0, 0))
    g.add("b", unit(0, 1, 0))
    assert g.decide(unit(1, 0.1, 0), threshold=0.8).label == "a"
    far = g.decide(unit(0, 0, 1), threshold=0.5)  # orthogonal to every prototype
    assert far.label == UNKNOWN and far.score == pytest.approx(0.0, abs=1e-6)
    assert [n for n, _ in far.top] == ["a", "b"]
    between = unit(1, 0.95, 0)  # close to both: fails the margin, passes the threshold
    assert g.decide(between, threshold=0.5, margin=0.1).label == UNKNOWN
    assert g.decide(between, threshold=0.5, margin=0.0).label == "a"
    assert Gallery(dim=3).decide(unit(1, 0, 0)).label == UNKNOWN


def test_background_class_answers_unknown_and_survives_save_and_edits(model, windows, tmp_path):
    g = Gallery(either_hand=False)
    g.add("wave", unit(1, 0, 0))
    g.add("clap", unit(0, 1, 0))
    g.add("idle", np.stack([unit(0, 0, 1), unit(-1, 0, 0)]), background=True)
    assert g.classes == ["wave", "clap", "idle"] and g.background_classes == ["idle"]
    assert g.prototypes()[0] == ["wave", "clap"] and [n for n, _ in g.rank(unit(0, 0, 1))] == ["wave", "clap"]
    # matched exemplar by exemplar: the mean of (0,0,1) and (-1,0,0) would not be near either
    near_idle = g.decide(unit(-1, 0, 0.2), threshold=-1.0)  # every class passes the threshold
    assert near_idle.label == UNKNOWN and near_idle.background == pytest.approx(
        float(unit(-1, 0, 0.2)[0] * -1)
    )
    assert [n for n, _ in near_idle.top] == ["clap", "wave"]  # the display ranks actions only
    wave = g.decide(unit(1, 0, 0.3), threshold=0.5)
    assert wave.label == "wave" and wave.background < wave.score
    assert g.decide(unit(0.2, 0, 1)).label == UNKNOWN  # the calibrated rule too
    assert Gallery(either_hand=False).decide(unit(1, 0, 0)).background is None
    with pytest.raises(ValueError, match="is a background class"):
        g.add("idle", unit(0, 0, 1), background=False)
    with pytest.raises(ValueError, match="is an action class"):
        g.add("wave", unit(1, 0, 0), background=True)
    g.add("idle", unit(0, -1, 0))  # None: as the class is
    g.rename("idle", "standing")
    assert g.is_background("standing") and g.counts()["standing"] == 3
    loaded = Gallery.load(g.save(tmp_path / "g"))
    assert loaded.background_classes == ["standing"] and loaded.counts() == g.counts()
    assert loaded.decide(unit(0, -1, 0.1), threshold=0.0).label == UNKNOWN
    loaded.remove("standing")
    assert loaded.background_classes == [] and loaded.decide(unit(0, -1, 0.1), threshold=-1.0).label == "wave"
    # re-embedding keeps the flag; loading checks the field
    embedder = Embedder(model)
    e = Gallery(embedder.dim, embedder.model_hash)
    e.add("wave", embedder.embed(windows[:1]), windows[:1])
    e.add("idle", embedder.embed(windows[1:2]), windows[1:2], background=True)
    assert e.reembed(embedder).background_classes == ["idle"]
    meta_path = e.save(tmp_path / "e") / "gallery.json"
    meta = json.loads(meta_path.read_text())
    meta["classes"][1]["background"] = "yes"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(GalleryError, match=r"classes\[1\]: field 'background'"):
        Gallery.load(tmp_path / "e")


def test_background_rows_from_outside_answer_unknown_without_joining_the_gallery():
    g = Gallery(either_hand=False)
    g.add("wave", unit(1, 0, 0))
    g.add("clap", unit(0, 1, 0))
    rest = unit(0, 0, 1)[None]  # e.g. Embedder.no_action_embeddings()
    query = unit(0.3, 0, 1)
    assert g.decide(query, threshold=-1.0).label == "wave"
    decision = g.decide(query, threshold=-1.0, background=rest)
    assert decision.label == UNKNOWN and decision.background == pytest.approx(float(query[2]))
    assert g.decide(query, background=rest).label == UNKNOWN  # the calibrated rule too
    assert g.decide(unit(1, 0, 0.3), threshold=0.5, background=rest).label == "wave"
    assert g.classes == ["wave", "clap"] and g.background_classes == []
    with pytest.raises(ValueError, match="'background'"):
        g.decide(query, background=np.zeros((1, 3), np.float32))


def test_gallery_save_load_round_trip(model, windows, tmp_path):
    embedder = Embedder(model)
    g = Gallery(embedder.dim, embedder.model_hash)
    g.add("wave", embedder.embed(windows[:2]), windows[:2], source=["a.csv", "b.csv"])
    g.add("clap", embedder.embed(windows[2:3]))  # no window stored
    folder = tmp_path / "gallery"
    folder.mkdir()
    (folder / "app-settings.json").write_text("{}")
    g.save(folder)
    g.add("bow", embedder.embed(windows[3:4]), windows[3:4])
    g.save(folder)  # second save replaces the arrays, keeps the app's own file
    assert (folder / "app-settings.json").exists()
    assert len(list(folder.glob("gallery-*-embeddings.npy"))) == 1
    loaded = Gallery.load(folder)
    assert loaded.counts() == {"wave": 2, "clap": 1, "bow": 1}
    assert loaded.model_hash == embedder.model_hash and loaded.dim == embedder.dim
    assert loaded.sources("wave") == ["a.csv", "b.csv"]
    np.testing.assert_array_equal(loaded.windows("wave")[1], windows[1])
    assert loaded.windows("clap") == [None]
    np.testing.assert_allclose(loaded.prototypes()[1], g.prototypes()[1])
    # re-embedding needs every window
    with pytest.raises(ValueError, match="without stored windows"):
        loaded.reembed(embedder)
    loaded.remove("clap")
    again = loaded.reembed(embedder)
    np.testing.assert_allclose(again.embeddings("wave"), loaded.embeddings("wave"), rtol=1e-4, atol=1e-5)
    empty = Gallery.load(Gallery().save(tmp_path / "empty"))
    assert len(empty) == 0 and empty.decide(np.ones(3, np.float32)).label == UNKNOWN


def test_gallery_load_errors_name_file_and_field(model, windows, tmp_path):
    embedder = Embedder(model)
    g = Gallery(embedder.dim, embedder.model_hash)
    g.add("wave", embedder.embed(windows[:2]), windows[:2])
    folder = g.save(tmp_path / "g")
    meta_path = folder / "gallery.json"
    meta = json.loads(meta_path.read_text())

    def broken(**changes):
        meta_path.write_text(json.dumps({**meta, **changes}))
        return folder

    with pytest.raises(GalleryError, match="field 'format_version'"):
        Gallery.load(broken(format_version=2))
    with pytest.raises(GalleryError, match=r"classes\[0\].exemplars\[1\]: field 'row'"):
        Gallery.load(broken(classes=[{"name": "wave", "exemplars": [{"row": 0}, {"row": 0}]}]))
    with pytest.raises(GalleryError, match="plain file name"):
        Gallery.load(broken(files={"embeddings": "../x.npy", "windows": meta["files"]["windows"]}))
    broken()
    np.save(folder / meta["files"]["embeddings"], np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(GalleryError, match="cannot read as a .npy"):
        Gallery.load(folder)
    meta_path.write_text("{")
    with pytest.raises(GalleryError, match="invalid JSON at line 1"):
        Gallery.load(folder)


def test_real_windows_end_to_end(model, data_root, tmp_path):
    """MSRC-12 windows through checkpoint -> Embedder -> Gallery -> save/load -> decide.

    An untrained model maps every window to nearly the same direction (cosines > 0.9999 measured), so
    only exact self-matches are asserted here; open-set rejection is tested on controlled embeddings.
    """
    from crossglg.data import load_dataset
    from crossglg.skeleton import make_window

    samples = load_dataset("msrc12", data_root, on_missing=lambda _: None)
    first = {}
    for s in samples:
        first.setdefault(s.label, s)
    embedder = Embedder(save_checkpoint(tmp_path / "ckpt", model, classes=["a", "b", "c"]))
    gallery = Gallery(embedder.dim, embedder.model_hash)
    for label in (0, 1, 2):
        w = make_window(first[label])[None]
        gallery.add(first[label].label_name, embedder.embed(w), w, source=first[label].source)
    gallery = Gallery.load(gallery.save(tmp_path / "gallery"))
    assert gallery.model_hash == embedder.model_hash
    query = embedder.embed(make_window(first[1]))[0]
    decision = gallery.decide(query, threshold=0.5)
    assert decision.label == first[1].label_name and decision.score == pytest.approx(1.0, abs=1e-5)
    assert len(decision.top) == 3
