"""livebg.matte.photo: photo matting (livebg image --matting) on a real portrait, at reduced
size so it is quick, and the trimap it starts from."""
import cv2
import numpy as np
import pytest
from conftest import square_scene

from livebg.config import Config
from livebg.frames.images import read_image
from livebg.jobs import run_images
from livebg.matte.photo import matte_photo, trimap_from_probability
from livebg.segment.factory import load_segmenter


@pytest.fixture(scope="module")
def portrait(shared):
    image = read_image(shared / "media/portraits/woman-5883428_1280.jpg")
    h, w = image.shape[:2]
    return cv2.resize(image, (320, round(h * 320 / w)), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def segmenter():
    return load_segmenter(Config().model)[0]


def test_matte_photo_gives_a_fine_alpha_and_a_clean_foreground(portrait, segmenter):
    prob = segmenter.predict([portrait])[0]
    alpha, foreground = matte_photo(portrait, prob)
    assert alpha.shape == portrait.shape[:2] and alpha.dtype == np.float32
    assert foreground.shape == portrait.shape and foreground.dtype == np.uint8
    assert 0 <= alpha.min() and alpha.max() <= 1
    fractional = (alpha > 0.02) & (alpha < 0.98)
    assert 0.005 < fractional.mean() < 0.3  # soft only in a band around the edge (hair)
    assert (alpha > 0.5).mean() > 0.2  # the person is there
    # where the alpha is opaque the pixels are the photo's own
    opaque = alpha > 0.999
    assert np.abs(foreground[opaque].astype(int) - portrait[opaque]).max() <= 1


def test_matte_photo_without_an_edge_returns_the_hard_mask(portrait):
    prob = np.ones((64, 64), np.float32)
    alpha, image = matte_photo(portrait, prob)
    assert alpha.min() == 1.0 and image is portrait


def test_image_command_with_matting(tmp_path, portrait, segmenter):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(src / name), cv2.cvtColor(portrait, cv2.COLOR_RGB2BGR))
    config = Config().override("background", bg="green")
    written = run_images([str(src)], str(tmp_path / "out"), config, segmenter=segmenter, progress=False, matting=True)
    assert [p.name for p in written] == ["a_livebg.png", "b_livebg.png"]
    out = cv2.imread(str(written[0]))
    assert out.shape == portrait.shape


def test_the_first_matting_run_says_it_compiles(tmp_path, portrait, segmenter, monkeypatch, capsys):
    """The first --matting run took 40 s in silence while numba compiled pymatting's code."""
    import importlib.util
    from types import SimpleNamespace

    import livebg.matte.photo as refine

    package = tmp_path / "pymatting"
    cache = package / "foreground" / "__pycache__"
    cache.mkdir(parents=True)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: SimpleNamespace(submodule_search_locations=[str(package)]))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert not refine.matting_compiled()
    numba_dir = tmp_path / "numba"
    (numba_dir / "x").mkdir(parents=True)
    (numba_dir / "x" / "estimate_foreground_ml._estimate_fb_ml-61.py311.nbi").touch()
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(numba_dir))
    assert refine.matting_compiled()  # cached elsewhere
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.undo()  # the real find_spec again, for the job below

    cv2.imwrite(str(tmp_path / "a.png"), cv2.cvtColor(portrait, cv2.COLOR_RGB2BGR))
    for compiled in (False, True):
        monkeypatch.setattr(refine, "matting_compiled", lambda: compiled)
        capsys.readouterr()
        run_images([str(tmp_path / "a.png")], str(tmp_path / f"out{compiled}.png"), Config(), segmenter=segmenter,
                   progress=False, matting=True)
        said = "compiles its code on its first run" in capsys.readouterr().err
        assert said == (not compiled)


def test_trimap_has_a_band_around_the_edge():
    _, _, truth = square_scene()
    import cv2

    prob = cv2.GaussianBlur(truth, (0, 0), 2)
    trimap = trimap_from_probability(prob, band=4)
    assert set(np.unique(trimap)) == {0.0, 0.5, 1.0}
    assert trimap[90, 160] == 1.0 and trimap[10, 10] == 0.0
    assert trimap[50, 160] == 0.5 and trimap[90, 100] == 0.5
