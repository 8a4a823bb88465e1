"""livebg.matte.photo: photo matting (livebg image --matting) on a real portrait, at reduced
size so it is quick, and on labelled photos against the plain output."""
import cv2
import numpy as np
import pytest

from livebg.config import Config
from livebg.frames.images import read_image
from livebg.jobs import run_images
from livebg.matte.matter import Matter
from livebg.matte.photo import matte_photo, soft_band
from livebg.segment.factory import load_segmenter


@pytest.fixture(scope="module")
def portrait(shared):
    image = read_image(shared / "media/portraits/woman-5883428_1280.jpg")
    h, w = image.shape[:2]
    return cv2.resize(image, (320, round(h * 320 / w)), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def segmenter():
    return load_segmenter(Config().model)[0]


def plain_alpha(image, segmenter):
    matter = Matter(Config().override("smoothing", method="none"), edge_threshold=segmenter.edge_threshold)
    return matter(segmenter.predict([image])[0].alpha, image)


def test_matte_photo_gives_a_fine_alpha_and_a_clean_foreground(portrait, segmenter):
    alpha, foreground = matte_photo(portrait, plain_alpha(portrait, segmenter))
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
    alpha, image = matte_photo(portrait, np.ones(portrait.shape[:2], np.float32))
    assert alpha.min() == 1.0 and image is portrait


def test_matte_photo_checks_what_it_is_given(portrait):
    with pytest.raises(ValueError, match="the image's size"):
        matte_photo(portrait, np.ones((64, 64), np.float32))
    with pytest.raises(TypeError, match="RGB uint8"):
        matte_photo(portrait.astype(np.float32), np.ones(portrait.shape[:2], np.float32))


def test_the_matting_moves_a_blurred_edge_onto_the_photos_own_edge():
    """A plain alpha that is a soft ramp 2 px off a sharp colour edge: the matting Laplacian
    pulls it onto the edge (closer to the truth), the prior keeps it from going anywhere else."""
    h, w = 80, 200
    image = np.full((h, w, 3), 40, np.uint8)
    image[:, 100:] = (210, 180, 160)
    truth = np.zeros((h, w), np.float32)
    truth[:, 100:] = 1
    x = np.arange(w, dtype=np.float32)
    plain = np.broadcast_to(1 / (1 + np.exp(-(x - 102) / 1.2)), (h, w)).astype(np.float32)
    matted, _ = matte_photo(image, plain)
    band = soft_band(plain)
    assert np.abs(matted - truth)[band].mean() < 0.8 * np.abs(plain - truth)[band].mean()
    assert np.array_equal(matted[~band], plain[~band])  # nothing outside the band moves


def test_matting_keeps_the_plain_outline_on_labelled_photos(shared, segmenter):
    """The first --matting solved a trimap cut from the model's probability and moved the
    outline (IoU and boundary F below the plain output on both photo sets). Now it starts from
    the plain alpha: on real labelled photos it keeps IoU and boundary F within .01."""
    from livebg.evaluation import boundary_f, iou

    folder = shared / "media/labeled_photos/coco_single_fullbody"
    for name in sorted(p.stem for p in (folder / "images").glob("*.jpg"))[:3]:
        image = read_image(folder / "images" / f"{name}.jpg")
        truth = cv2.imread(str(folder / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE) > 127
        plain = plain_alpha(image, segmenter)
        matted, _ = matte_photo(image, plain)
        assert iou(matted, truth) >= iou(plain, truth) - 0.01, name
        assert boundary_f(matted, truth) >= boundary_f(plain, truth) - 0.01, name


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


def test_big_photos_are_matted_at_a_bounded_size_and_brought_back_edge_aware(shared):
    """A photo over MATTING_PIXELS is solved at that size and brought to full size by a guided
    fit of its luma: the alpha follows the full-size picture's edges, close to matting the
    whole photo (which took 6 GB at 10 MP and was killed at 64 MP)."""
    import cv2
    import numpy as np

    from livebg.frames.images import read_image
    from livebg.matte.photo import matte_photo

    image = read_image(shared / "media/portraits/doctor-5871743_640.jpg")
    big = cv2.resize(image, (image.shape[1] * 2, image.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
    prob = np.zeros((96, 64), np.float32)
    cv2.ellipse(prob, (32, 60), (22, 40), 0, 0, 360, 1.0, -1)
    prob = cv2.GaussianBlur(prob, (9, 9), 3)
    prob = cv2.resize(prob, (big.shape[1], big.shape[0]), interpolation=cv2.INTER_LINEAR)
    full_alpha, _ = matte_photo(big, prob, max_pixels=10**9)
    bounded_alpha, out = matte_photo(big, prob, max_pixels=big.shape[0] * big.shape[1] // 4)
    assert bounded_alpha.shape == big.shape[:2] and bounded_alpha.dtype == np.float32 and out.shape == big.shape
    hard = (full_alpha > 0.5) & (bounded_alpha > 0.5)
    assert hard.sum() / max(1, ((full_alpha > 0.5) | (bounded_alpha > 0.5)).sum()) > 0.97
    assert np.abs(full_alpha - bounded_alpha).mean() < 0.02
    # the soft edge is still soft (an upscaled hard mask would not be)
    assert ((bounded_alpha > 0.05) & (bounded_alpha < 0.95)).sum() > 0.2 * ((full_alpha > 0.05) & (full_alpha < 0.95)).sum()


def test_a_24_megapixel_photo_stays_within_3_gb(shared, tmp_path):
    """The hardening goal, in a child process whose peak memory is read back (its time is
    scripts/bench_matting.py's; measured in docs/speed.md)."""
    import os
    import subprocess
    import sys

    import cv2

    from tests.support import REPO

    image = cv2.imread(str(shared / "media/portraits/doctor-5871743_640.jpg"))
    scale = (24e6 / (image.shape[0] * image.shape[1])) ** 0.5
    big = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)), interpolation=cv2.INTER_LINEAR)
    photo = tmp_path / "big.jpg"
    cv2.imwrite(str(photo), big)
    child = subprocess.Popen([sys.executable, "-m", "livebg", "image", str(photo), "-o", str(tmp_path / "out.jpg"),
                              "--bg", "white", "--matting", "--fast", "-q"], cwd=REPO, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, child.stderr.read().decode()
    assert usage.ru_maxrss / 1024 / 1024 < 3.0, usage.ru_maxrss
    assert cv2.imread(str(tmp_path / "out.jpg")).shape == big.shape


def test_a_panorama_wider_than_32767_pixels_is_matted():
    """cv2.remap takes maps of at most 32767 columns (SHRT_MAX): bringing the alpha of a wide
    panorama back to full size failed. A 33000x200 picture with its person past column 32767."""
    h, w = 200, 33000
    image = np.full((h, w, 3), 40, np.uint8)
    image[40:, 32400:32800] = 210  # a bright figure, its right edge past SHRT_MAX
    truth = np.zeros((h, w), np.float32)
    truth[40:, 32400:32800] = 1
    plain = cv2.GaussianBlur(truth, (0, 0), 3)  # a plain alpha's soft edge
    alpha, out = matte_photo(image, plain, max_pixels=300_000)
    assert alpha.shape == (h, w) and out.shape == image.shape
    assert alpha[120, 32600] > 0.9 and alpha[120, 32790] > 0.9  # inside, on either side of column 32767
    assert alpha[120, 32850] < 0.1 and alpha[120, 100] < 0.1 and alpha[20, 32600] < 0.1
    assert np.abs(alpha - truth).mean() < 0.01


def test_remap_in_blocks_is_one_remap(monkeypatch):
    """The column blocks (made narrow here) give exactly what one cv2.remap call gives."""
    from livebg.matte import photo

    monkeypatch.setattr(photo, "REMAP_BLOCK", 7)
    src = np.random.default_rng(0).random((30, 40, 3), dtype=np.float32)
    map_x = np.broadcast_to(((np.arange(100, dtype=np.float32) + 0.5) * 0.4 - 0.5)[None, :], (20, 100)).astype(np.float32)
    map_y = np.broadcast_to(((np.arange(40, 60, dtype=np.float32) + 0.5) * 0.4 - 0.5)[:, None], (20, 100)).astype(np.float32)
    whole = cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(photo._remap_blocks(src, map_x, map_y), whole)
