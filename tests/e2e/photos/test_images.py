"""`livebg image` on real portraits with real models: resolution, alpha, file names, EXIF
orientation, and the DeepLabV3-MobileNetV2-VOC photo check."""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from livebg.cli import main
from livebg.config import ModelConfig
from livebg.segment.factory import load_segmenter

DOCTOR = "doctor-5871743_640.jpg"  # 640x427, the person in the middle, plain background
GIRL = "girl-919048_1280.jpg"  # 1280x853
# woman-5883428_1280.jpg is a selfie whose arm fills two corners; it is used where corners do not matter


@pytest.fixture(scope="module")
def portraits(shared):
    return shared / "media" / "portraits"


@pytest.fixture(scope="module")
def selfie():
    segmenter, _ = load_segmenter(ModelConfig(name="selfie"))
    return segmenter


def read_rgb(path) -> np.ndarray:
    return np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))


def model_mask(segmenter, rgb: np.ndarray) -> np.ndarray:
    """The segmenter's own probability, upsampled to the photo: the reference for the output alpha."""
    prob = segmenter.predict([rgb])[0].alpha
    return cv2.resize(prob, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)


def iou(a: np.ndarray, b: np.ndarray, threshold: float = 0.5) -> float:
    a, b = a > threshold, b > threshold
    return float((a & b).sum() / max(1, (a | b).sum()))


def corners(image: np.ndarray, k: int) -> list[np.ndarray]:
    return [image[:k, :k], image[:k, -k:], image[-k:, :k], image[-k:, -k:]]


def run(args: list[str]) -> int:
    return main([*args, "-q"])


@pytest.mark.parametrize("name", [DOCTOR, GIRL])
def test_transparent_png_keeps_resolution_person_and_colours(tmp_path, portraits, selfie, name):
    src = portraits / name
    out = tmp_path / "out.png"
    assert run(["image", str(src), "--bg", "transparent", "-o", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
    with Image.open(out) as im:
        assert im.format == "PNG" and im.mode == "RGBA"
        rgba = np.asarray(im)
    original = read_rgb(src)
    assert rgba.shape[:2] == original.shape[:2]
    alpha = rgba[..., 3].astype(np.float32) / 255

    reference = model_mask(selfie, original)
    h, w = alpha.shape
    centre = (slice(h * 2 // 5, h * 3 // 5), slice(w * 2 // 5, w * 3 // 5))
    person = reference[centre] > 0.95
    assert person.mean() > 0.5, "the reference model should see the person at the centre"
    assert alpha[centre][person].mean() > 0.95
    assert iou(alpha, reference) > 0.95
    k = min(h, w) // 10
    for alpha_corner, ref_corner in zip(corners(alpha, k), corners(reference, k)):
        assert ref_corner.max() < 0.05  # background there, by the model's own account
        assert alpha_corner.mean() < 0.02
    # where the person is, the pixels are the photo's own
    solid = alpha > 0.99
    diff = np.abs(rgba[..., :3].astype(np.int16) - original.astype(np.int16))[solid]
    assert diff.mean() < 2.0


def test_white_background_to_jpeg(tmp_path, portraits, selfie):
    src = portraits / DOCTOR
    out = tmp_path / "white.jpg"
    assert run(["image", str(src), "--bg", "white", "-o", str(out)]) == 0
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.mode == "RGB"
        result = np.asarray(im).astype(np.int16)
    original = read_rgb(src).astype(np.int16)
    assert result.shape == original.shape
    reference = model_mask(selfie, original.astype(np.uint8))
    background = reference < 0.02
    person = reference > 0.98
    assert background.mean() > 0.2 and person.mean() > 0.2
    assert result[background].min(axis=1).mean() > 245  # white where the model sees background
    assert np.abs(result[person] - original[person]).mean() < 6  # JPEG noise only on the person
    assert np.abs(original[background] - 255).mean() > 40  # the photo's own background was not white


def test_several_photos_and_a_directory_into_an_output_directory(tmp_path, portraits, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(portraits / DOCTOR, inputs / "a.jpg")
    png = cv2.imread(str(portraits / GIRL))
    cv2.imwrite(str(inputs / "b.png"), cv2.resize(png, (320, 213)))
    (inputs / "notes.txt").write_text("not a photo; directories are filtered by extension")

    out = tmp_path / "several"
    # without -q: the report lines (the model's among them) are wanted here
    assert main(["image", str(portraits / DOCTOR), str(portraits / GIRL), "--bg", "black", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{DOCTOR[:-4]}_livebg.jpg", f"{GIRL[:-4]}_livebg.jpg"]
    startup = capsys.readouterr().err
    assert "crop pass" in startup and "follows the person" not in startup  # photos are each seen whole
    for name in (DOCTOR, GIRL):
        with Image.open(out / f"{name[:-4]}_livebg.jpg") as im, Image.open(portraits / name) as original:
            assert im.format == "JPEG" and im.size == original.size

    (inputs / "more").mkdir()  # a subfolder is not searched, and the log says so
    shutil.copy(portraits / DOCTOR, inputs / "more" / "c.jpg")
    (inputs / ".DS_Store").write_text("hidden files are not counted")
    shutil.copy(portraits / DOCTOR, inputs / ".hidden.jpg")  # but a hidden photo is a photo, as for `livebg video DIR`
    out_dir = tmp_path / "from-dir"
    out_dir.mkdir()
    capsys.readouterr()
    assert run(["image", str(inputs), "-o", str(out_dir)]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == [".hidden_livebg.jpg", "a_livebg.jpg", "b_livebg.png"]
    assert (f"{inputs}: 3 photos; skipped 1 folder and 1 other file (subfolders are not searched: "
            "name them too to include them)") in capsys.readouterr().err
    with Image.open(out_dir / "b_livebg.png") as im:
        assert im.format == "PNG" and im.size == (320, 213) and im.mode == "RGB"

    out_alpha = tmp_path / "transparent"
    assert run(["image", str(inputs), "--bg", "transparent", "-o", str(out_alpha)]) == 0
    assert sorted(p.name for p in out_alpha.iterdir()) == [".hidden_livebg.png", "a_livebg.png", "b_livebg.png"]
    for p in out_alpha.iterdir():
        with Image.open(p) as im:
            assert im.mode == "RGBA"


def test_a_trailing_slash_means_a_directory_whatever_its_name(tmp_path, portraits):
    """`-o ph/x.lb/` and `-o ph/out.png/` are new directories (the slash says so), not files
    with an unknown or an image extension; without the slash `x.lb` is still refused."""
    for name in ("x.lb", "out.png"):
        target = tmp_path / name
        assert run(["image", str(portraits / DOCTOR), "-o", f"{target}/"]) == 0
        assert target.is_dir(), name
        assert [p.name for p in target.iterdir()] == [f"{DOCTOR[:-4]}_livebg.jpg"]
    assert run(["image", str(portraits / DOCTOR), "-o", str(tmp_path / "y.lb")]) != 0
    assert not (tmp_path / "y.lb").exists()


def test_photos_named_alike_do_not_overwrite_each_other(tmp_path, portraits, capsys):
    """x.jpg, x.png and X.webp (and a/p.jpg beside b/p.jpg) would all be x_livebg.*: later ones
    are numbered, and the log says which photo went where."""
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    doctor = cv2.imread(str(portraits / DOCTOR))
    girl = cv2.imread(str(portraits / GIRL))
    cv2.imwrite(str(first / "x.jpg"), doctor)
    cv2.imwrite(str(first / "x.webp"), girl)
    cv2.imwrite(str(second / "X.jpg"), cv2.flip(doctor, 1))
    out = tmp_path / "out"
    assert run(["image", str(first), str(second), "--bg", "white", "-o", str(out)]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == ["X_livebg_3.jpg", "x_livebg.jpg", "x_livebg_2.jpg"]
    err = capsys.readouterr().err
    assert "x.webp -> x_livebg_2.jpg" in err and "X.jpg -> X_livebg_3.jpg" in err
    # each result is its own photo: the girl's is a different picture from the doctor's
    results = {name: cv2.imread(str(out / name)) for name in written}
    assert results["x_livebg_2.jpg"].shape == girl.shape and results["x_livebg.jpg"].shape == doctor.shape
    assert np.abs(results["X_livebg_3.jpg"].astype(int) - results["x_livebg.jpg"].astype(int)).mean() > 5


def test_video_background_behind_photos_of_different_sizes(tmp_path, portraits, shared):
    bunny = shared / "media" / "background_videos" / "big_buck_bunny_320x176.mp4"
    out = tmp_path / "out"
    assert run(["image", str(portraits / DOCTOR), str(portraits / GIRL), "--bg", str(bunny), "-o", str(out)]) == 0
    for name in (DOCTOR, GIRL):
        with Image.open(out / f"{name[:-4]}_livebg.jpg") as im, Image.open(portraits / name) as original:
            assert im.size == original.size


def test_exif_orientation_is_honoured(tmp_path, portraits):
    """A photo stored on its side with Orientation = 6 (rotate 90° clockwise to display) comes out
    upright: the displayed size, and the same person mask as the upright photo."""
    upright = read_rgb(portraits / DOCTOR)
    stored = np.ascontiguousarray(np.rot90(upright, k=1))  # 90° anticlockwise: what a sideways camera saves
    sideways = tmp_path / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(sideways, quality=95, exif=exif)
    with Image.open(sideways) as im:  # guard the fixture: stored on its side, displayed upright
        assert im.size == (upright.shape[0], upright.shape[1])
        assert im.getexif()[0x0112] == 6

    ref = tmp_path / "upright.png"
    out = tmp_path / "rotated.png"
    assert run(["image", str(portraits / DOCTOR), "--bg", "transparent", "-o", str(ref)]) == 0
    assert run(["image", str(sideways), "--bg", "transparent", "-o", str(out)]) == 0
    with Image.open(out) as im:
        rotated = np.asarray(im)
    with Image.open(ref) as im:
        reference = np.asarray(im)
    assert rotated.shape == reference.shape == (*upright.shape[:2], 4)
    # content orientation: the colours match the upright photo (JPEG re-encoding aside)
    assert np.abs(rotated[..., :3].astype(np.int16) - upright.astype(np.int16)).mean() < 4
    assert iou(rotated[..., 3] / 255, reference[..., 3] / 255) > 0.95


@pytest.mark.parametrize("name", [DOCTOR, GIRL])
def test_voc_onnx_model_agrees_with_selfie_model(tmp_path, portraits, shared, name):
    voc = shared / "models" / "deeplabv3_mobilenetv2_voc_257x257.onnx"
    src = portraits / name
    out_voc = tmp_path / "voc.png"
    out_selfie = tmp_path / "selfie.png"
    assert run(["image", str(src), "--model", str(voc), "--classes", "person", "--bg", "transparent",
                "-o", str(out_voc)]) == 0
    assert run(["image", str(src), "--model", "selfie", "--bg", "transparent", "-o", str(out_selfie)]) == 0
    with Image.open(out_voc) as a, Image.open(out_selfie) as b:
        assert a.mode == b.mode == "RGBA" and a.size == b.size
        alpha_voc = np.asarray(a)[..., 3] / 255
        alpha_selfie = np.asarray(b)[..., 3] / 255
    assert 0.1 < (alpha_voc > 0.5).mean() < 0.9  # a person, not everything or nothing
    assert iou(alpha_voc, alpha_selfie) > 0.7


def test_voc_class_choice_matters(tmp_path, portraits, shared):
    """The classes are picked by name: `cat` finds no cat in a portrait of a doctor."""
    voc = shared / "models" / "deeplabv3_mobilenetv2_voc_257x257.onnx"
    out = tmp_path / "cat.png"
    assert run(["image", str(portraits / DOCTOR), "--model", str(voc), "--classes", "cat", "--bg", "transparent",
                "-o", str(out)]) == 0
    with Image.open(out) as im:
        assert (np.asarray(im)[..., 3] > 127).mean() < 0.02


def test_transparent_into_jpeg_is_refused(tmp_path, portraits, capsys):
    capsys.readouterr()
    out = tmp_path / "out.jpg"
    status = run(["image", str(portraits / DOCTOR), "--bg", "transparent", "-o", str(out)])
    err = capsys.readouterr().err
    assert status != 0
    errors = [line for line in err.splitlines() if line.startswith("livebg: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert "out.jpg" in errors[0] and "transparency" in errors[0] and ".png" in errors[0]
    assert list(tmp_path.iterdir()) == []


def test_a_bad_photo_in_a_batch_is_reported_and_the_others_are_written(shared, tmp_path, capsys):
    """Each photo is a job of its own (a batch used to be one: a bad photo deleted the rest)."""
    from livebg.cli import main

    bad = tmp_path / "in" / "aa_broken.jpg"  # first, so the batch must get past it
    bad.parent.mkdir()
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    out = tmp_path / "out"
    out.mkdir()
    good = shared / "media/portraits/doctor-5871743_640.jpg"
    other = shared / "media/portraits" / sorted(p.name for p in (shared / "media/portraits").glob("*.jpg"))[-1]
    assert main(["image", str(bad), str(good), str(other), "-o", str(out), "--bg", "white"]) == 3
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert any("aa_broken.jpg" in line and "not an image" in line for line in lines)  # its own line
    assert lines[-1].startswith("livebg: error: 1 of 3 photos failed (aa_broken.jpg); 2 written")
    assert sorted(p.name for p in out.iterdir()) == sorted({f"{good.stem}_livebg.jpg", f"{other.stem}_livebg.jpg"})
    assert "Traceback" not in err


def test_a_photo_batch_of_only_bad_photos_fails_with_one_line(tmp_path, capsys):
    from livebg.cli import main

    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"nope")
    assert main(["image", str(bad), "-o", str(tmp_path / "out"), "--bg", "white"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("livebg: error:")
    assert not (tmp_path / "out").exists()


def test_a_photo_that_breaks_the_matting_is_one_failure_not_a_crash(shared, tmp_path, capsys, monkeypatch):
    """A library failing on one picture (pymatting did, on a photo with no clear person) fails
    that photo with a one-line reason; the batch goes on."""
    import livebg.matte.photo as photo
    from livebg.cli import main

    real = photo.matte_photo
    calls = []

    def flaky(image, prob, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("Trimap did not contain foreground values")
        return real(image, prob, **kwargs)

    monkeypatch.setattr(photo, "matte_photo", flaky)
    monkeypatch.setattr(photo, "matting_compiled", lambda: True)
    portraits = sorted((shared / "media/portraits").glob("*.jpg"))[:2]
    out = tmp_path / "out"
    assert main(["image", *map(str, portraits), "-o", str(out), "--bg", "white", "--matting"]) == 3
    err = capsys.readouterr().err
    assert "ValueError: Trimap did not contain foreground values" in err and "Traceback" not in err
    assert len(list(out.iterdir())) == 1


def test_macos_resource_forks_and_partial_files_are_not_photos(tmp_path):
    """A folder copied from a Mac holds ._IMG_1.jpg companions (not pictures); a killed run may
    leave livebg's own partial outputs. Neither is a photo to process."""
    from livebg.jobs.photos import collect_images

    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "IMG_1.jpg"), np.zeros((8, 8, 3), np.uint8))
    (folder / "._IMG_1.jpg").write_bytes(b"\x00\x05\x16\x07 resource fork")
    (folder / ".IMG_1_livebg.livebg-partial-99999-abcd.jpg").write_bytes(b"half")
    assert [p.name for p in collect_images([str(folder)])] == ["IMG_1.jpg"]
