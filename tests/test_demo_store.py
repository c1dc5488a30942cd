"""The app's gallery store: survives restarts, re-embeds for a new model, quarantines corrupt files,
refuses bad imports, seeds and removes the starter gallery."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_demo_support import TINY_MODEL, checkpoint_for_tests

from crossglg.oneshot import GALLERY_FILE, Embedder, Gallery
from demo.runtime import load_embedder
from demo.store import STARTER_GALLERY, GalleryStore, default_gallery_dir


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    emb, _ = load_embedder(checkpoint_for_tests(tmp_path_factory.mktemp("model")), "auto")
    return emb


@pytest.fixture(scope="module")
def windows(data_root):
    """Real canonical windows: NTU skeletons converted by the layout layer."""
    from crossglg.data import read_file
    from crossglg.skeleton import make_window

    names = ["S001C001P001R001A011", "S002C001P003R001A003", "S003C001P015R001A034"]
    return [make_window(read_file(data_root / "ntu" / f"{n}.skeleton")) for n in names]


def test_gallery_survives_a_restart(embedder, windows, tmp_path):
    store = GalleryStore(embedder, tmp_path, starter=None)
    store.add_example("reading", windows[0])
    store.add_example("brushing", windows[1])
    store.add_example("brushing", windows[2])
    store.rename("brushing", "brush teeth")
    again = GalleryStore(embedder, tmp_path, starter=None)
    assert again.gallery.counts() == {"reading": 1, "brush teeth": 2}
    assert again.messages == []
    np.testing.assert_allclose(again.gallery.embeddings("reading"), store.gallery.embeddings("reading"))
    np.testing.assert_array_equal(again.gallery.windows("reading")[0], windows[0])
    again.remove("reading")
    assert GalleryStore(embedder, tmp_path, starter=None).gallery.classes == ["brush teeth"]


def test_a_new_model_re_embeds_the_stored_windows(embedder, windows, tmp_path):
    import torch

    from crossglg.models import build_model

    store = GalleryStore(embedder, tmp_path, starter=None)
    store.add_example("reading", windows[0])
    torch.manual_seed(123)
    other = Embedder(build_model(TINY_MODEL))
    assert other.model_hash != embedder.model_hash
    reopened = GalleryStore(other, tmp_path, starter=None)
    assert reopened.gallery.model_hash == other.model_hash
    assert any("re-embedded 1 examples" in m for m in reopened.messages)
    np.testing.assert_allclose(
        reopened.gallery.embeddings("reading")[0], other.embed(windows[0][None])[0], atol=1e-5
    )
    assert Gallery.load(tmp_path).model_hash == other.model_hash  # saved, not redone at every start


def test_a_corrupt_gallery_is_reported_and_set_aside(embedder, windows, tmp_path):
    store = GalleryStore(embedder, tmp_path, starter=None)
    store.add_example("reading", windows[0])
    (tmp_path / GALLERY_FILE).write_text('{"format": "crossglg-gallery", "classes": [', encoding="utf-8")
    reopened = GalleryStore(embedder, tmp_path, starter=None)
    assert len(reopened.gallery) == 0
    assert any("could not be read" in m and "invalid JSON" in m for m in reopened.messages)
    kept = list((tmp_path / "quarantine").glob(f"*/{GALLERY_FILE}"))
    assert len(kept) == 1 and kept[0].read_text().startswith('{"format"')
    assert len(list(kept[0].parent.glob("gallery-*-windows.npy"))) == 1  # the data is kept too
    # The fresh gallery is saved at once: the next start neither complains again nor re-seeds.
    assert GalleryStore(embedder, tmp_path).messages == []


def test_a_gallery_that_cannot_follow_a_new_model_is_set_aside(embedder, windows, tmp_path):
    legacy = Gallery(embedder.dim, "some-older-model")
    legacy.add("wave", embedder.embed(windows[0][None]))  # no window stored: cannot be re-embedded
    legacy.save(tmp_path)
    store = GalleryStore(embedder, tmp_path, starter=None)
    assert len(store.gallery) == 0
    assert any("could not be re-embedded" in m for m in store.messages)
    assert len(list((tmp_path / "quarantine").glob(f"*/{GALLERY_FILE}"))) == 1


def test_export_and_import_round_trip_and_bad_imports_are_refused(embedder, windows, tmp_path):
    store = GalleryStore(embedder, tmp_path / "mine", starter=None)
    store.add_example("reading", windows[0])
    store.add_example("idle", windows[2], background=True)
    assert [(c.name, c.background) for c in store.classes()] == [("reading", False), ("idle", True)]
    store.export(tmp_path / "exported")
    with pytest.raises(ValueError, match="not empty"):
        store.export(tmp_path / "exported")

    friend = GalleryStore(embedder, tmp_path / "friend", starter=None)
    friend.add_example("reading", windows[1])
    friend.add_example("rubbing hands", windows[2])
    assert friend.import_gallery(tmp_path / "exported") == ["reading", "idle"]
    assert friend.gallery.counts() == {"reading": 2, "rubbing hands": 1, "idle": 1}
    assert friend.gallery.background_classes == ["idle"]  # an imported idle example stays background

    with pytest.raises(ValueError, match=r"cannot import .*missing gallery.json"):
        friend.import_gallery(tmp_path / "nothing-here")
    bad = tmp_path / "bad"
    store.export(bad)
    meta = json.loads((bad / GALLERY_FILE).read_text())
    meta["classes"][0]["exemplars"][0]["row"] = 7
    (bad / GALLERY_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"exemplars\[0\]: field 'row' invalid"):
        friend.import_gallery(bad)
    no_windows = tmp_path / "no-windows"
    legacy = Gallery(embedder.dim, embedder.model_hash)
    legacy.add("wave", embedder.embed(windows[0][None]))
    legacy.save(no_windows)
    with pytest.raises(ValueError, match="without stored skeleton windows"):
        friend.import_gallery(no_windows)
    assert friend.gallery.counts() == {"reading": 2, "rubbing hands": 1, "idle": 1}  # refused: unchanged


def test_first_run_starts_with_the_starter_gallery_which_can_be_removed(embedder, tmp_path):
    assert (STARTER_GALLERY / GALLERY_FILE).is_file()
    store = GalleryStore(embedder, tmp_path)
    infos = store.classes()
    assert len(infos) >= 4 and all(c.starter for c in infos)
    assert {"wave", "clap", "sit down", "stand up"} <= {c.name for c in infos}
    assert store.gallery.model_hash == embedder.model_hash
    store.add_example("my move", store.gallery.windows("wave")[0])
    assert store.remove_starter() == len(infos)
    assert [c.name for c in GalleryStore(embedder, tmp_path).classes()] == ["my move"]  # no re-seeding


def test_default_folder_is_the_user_data_dir():
    path = default_gallery_dir()
    assert path.name == "gallery" and "crossglg-live" in str(path)


def test_either_hand_matching_embeds_every_mirror_and_survives_a_restart(embedder, windows, tmp_path):
    """Turned on in the store, every exemplar (recorded before or after, or imported) matches its
    left-right mirror: a mirrored query scores its class as the original does; the file keeps it."""
    from crossglg.skeleton.augment import mirror

    store = GalleryStore(embedder, tmp_path / "mine", starter=None)
    store.add_example("reading", windows[0])
    mirrored_query = embedder.embed(mirror(windows[1])[None])[0]
    plain = dict(zip(*store.gallery.similarities(mirrored_query)[:2], strict=True))
    store.set_either_hand(True)
    store.add_example("brushing", windows[1])  # recorded with the option on
    other = Gallery(embedder.dim, embedder.model_hash, either_hand=False)
    other.add("kicking", embedder.embed(windows[2][None]), windows[2][None], "elsewhere")
    other.save(tmp_path / "theirs")
    store.import_gallery(tmp_path / "theirs")
    for name, window in zip(["reading", "brushing", "kicking"], windows, strict=True):
        query = embedder.embed(mirror(window)[None])[0]  # the other hand
        sims = dict(zip(*store.gallery.similarities(query)[:2], strict=True))
        assert sims[name] == pytest.approx(1.0, abs=1e-5), name
    again = GalleryStore(embedder, tmp_path / "mine", starter=None)
    assert again.gallery.either_hand
    sims = dict(zip(*again.gallery.similarities(mirrored_query)[:2], strict=True))
    # either hand never lowers a score (equal up to float64 rounding: the two galleries differ in size, so
    # the matrix products sum in a different order)
    assert sims["brushing"] == pytest.approx(1.0, abs=1e-5) and sims["reading"] >= plain["reading"] - 1e-12
    again.set_either_hand(False)
    assert not GalleryStore(embedder, tmp_path / "mine", starter=None).gallery.either_hand
