"""Robust Video Matting as a livebg model: loading (cache, sha256, download, offline), the choice
of ``auto``, the recurrent state per stream, the IO-binding path the GPU uses, float16, and
the alpha on real frames of every labelled sample. The IO-binding and float16 tests run on
``--device`` (the CPU by default, a GPU with `pytest --device cuda`)."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import requests

from livebg.config import ModelConfig
from livebg.errors import ModelError
from livebg.evaluation import iou, load_labeled
from livebg.frames.cuts import CutDetector
from livebg.frames.yuv import downscale
from livebg.segment.factory import choose_model, load_segmenter
from livebg.segment.rvm import RvmSegmenter, RvmStream, plan_for, without_refiner
from livebg.segment.weights import RVM_FILES, fetch_rvm
from tests.support import RVM_FILE

pytestmark = pytest.mark.rvm

def at(alpha: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The model's alpha (at its source size) brought to the frame's size."""
    return cv2.resize(alpha, truth.shape[::-1], interpolation=cv2.INTER_LINEAR)


CLIPS = ("davis_lucia", "davis_parkour", "davis_breakdance-flare", "davis17_schoolgirls")


@pytest.fixture(scope="module")
def rvm() -> RvmSegmenter:
    return RvmSegmenter(RVM_FILE, threads=2)


@pytest.fixture(scope="module")
def clips(shared):
    return {name: load_labeled(shared / "media" / "labeled" / name, 12) for name in CLIPS}


# -- weights -------------------------------------------------------------------------------------

def test_rvm_loads_from_the_cache_and_checks_its_sha256(rvm_cache, capsys):
    segmenter, reason = load_segmenter(ModelConfig(name="rvm", device="cpu"))
    assert isinstance(segmenter, RvmSegmenter) and segmenter.path == rvm_cache / RVM_FILE.name
    assert "rvm" in segmenter.describe() and "384 px" in segmenter.describe()
    # a file that is not the release file is refused with what to do
    (rvm_cache / RVM_FILE.name).write_bytes(RVM_FILE.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelError, match="sha256 differs.*delete it"):
        load_segmenter(ModelConfig(name="rvm", device="cpu"))


def test_auto_chooses_rvm_for_files_selfie_live_on_cpu_and_with_fast(rvm_cache):
    assert choose_model(ModelConfig(device="cpu")).spec.name == "rvm"
    assert "--fast" in choose_model(ModelConfig(device="cpu")).reason  # what the other choice costs
    assert choose_model(ModelConfig(device="cpu"), live=True).spec.name == "selfie"
    assert choose_model(ModelConfig(device="cpu", fast=True)).spec.name == "selfie"
    assert choose_model(ModelConfig(name="rvm", device="cpu"), live=True).spec.name == "rvm"  # asked for


def test_offline_without_weights_auto_falls_back_in_one_line_and_rvm_says_what_to_do(capsys):
    choice = choose_model(ModelConfig(device="cpu"))
    assert choice.spec.name == "selfie"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "instead of RVM" in err[0] and RVM_FILES["float32"][0] in err[0]
    with pytest.raises(ModelError, match="--weights FILE, or use --model selfie"):
        load_segmenter(ModelConfig(name="rvm", device="cpu"))
    # --weights names the file directly, cache or not
    segmenter, _ = load_segmenter(ModelConfig(name="rvm", device="cpu", weights=str(RVM_FILE)))
    assert isinstance(segmenter, RvmSegmenter)


def _response(body: bytes) -> requests.Response:
    """What requests.get answers for the release file (the stand-in for the network)."""
    response = requests.Response()
    response.status_code, response.raw = 200, io.BytesIO(body)
    response.headers["Content-Length"] = str(len(body))
    return response


def _no_network(calls: list):
    def get(url, **kwargs):
        calls.append(url)
        raise requests.exceptions.ConnectionError("Name or service not known")
    return get


def test_download_checks_the_sha256_and_renames_only_a_good_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIVEBG_CACHE", str(tmp_path))
    monkeypatch.delenv("LIVEBG_OFFLINE")
    asked = []

    def serve(body: bytes):
        def get(url, **kwargs):
            asked.append(url)
            return _response(body)
        return get

    monkeypatch.setattr(requests, "get", serve(b"not the model"))
    with pytest.raises(ModelError, match="does not match its recorded sha256"):
        fetch_rvm()
    assert list(tmp_path.iterdir()) == []  # the bad download is gone, not cached
    monkeypatch.setattr(requests, "get", serve(RVM_FILE.read_bytes()))
    path = fetch_rvm()
    assert path == tmp_path / RVM_FILE.name and path.read_bytes() == RVM_FILE.read_bytes()
    assert asked[-1].startswith("https://github.com/PeterL1n/RobustVideoMatting/releases/download/v1.0.0/")
    assert "GPL-3.0" in capsys.readouterr().err  # says where it came from and under what terms


def test_a_failed_download_is_not_retried_on_every_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEBG_CACHE", str(tmp_path))
    monkeypatch.delenv("LIVEBG_OFFLINE")
    calls: list[str] = []
    monkeypatch.setattr(requests, "get", _no_network(calls))
    with pytest.raises(ModelError, match="could not be downloaded .Name or service not known"):
        fetch_rvm()
    with pytest.raises(ModelError, match="retries in a day"):
        fetch_rvm(skip_recent_failure=True)  # as ``auto`` asks
    assert len(calls) == 1
    assert [p.name for p in tmp_path.iterdir()] == [RVM_FILE.name + ".failed"]  # no temporary file left



def test_an_explicit_model_rvm_tries_again_despite_a_recent_failure(tmp_path, monkeypatch, capsys):
    """The .failed marker spares ``auto`` a retry on every run; it kept `--model rvm`, asked for
    by name, from downloading for a day after one failure (a network down for a minute)."""
    monkeypatch.setenv("LIVEBG_CACHE", str(tmp_path))
    monkeypatch.delenv("LIVEBG_OFFLINE")
    calls: list[str] = []
    monkeypatch.setattr(requests, "get", _no_network(calls))
    with pytest.raises(ModelError, match="could not be downloaded"):
        load_segmenter(ModelConfig(name="rvm", device="cpu"))
    assert choose_model(ModelConfig(device="cpu")).spec.name == "selfie" and len(calls) == 1  # auto: not again
    assert "--model rvm tries again now" in capsys.readouterr().err
    monkeypatch.setattr(requests, "get", lambda url, **kwargs: calls.append(url) or _response(RVM_FILE.read_bytes()))
    segmenter, _ = load_segmenter(ModelConfig(name="rvm", device="cpu"))  # asked for: tried again, and it works
    assert isinstance(segmenter, RvmSegmenter) and len(calls) == 2
    assert not (tmp_path / (RVM_FILE.name + ".failed")).exists()
    (tmp_path / RVM_FILE.name).unlink()
    (tmp_path / (RVM_FILE.name + ".failed")).write_text("Name or service not known\n")
    monkeypatch.setenv("LIVEBG_OFFLINE", "1")  # offline: the error that says what to do, no download
    with pytest.raises(ModelError, match="LIVEBG_OFFLINE is set.*--weights FILE, or use --model selfie"):
        load_segmenter(ModelConfig(name="rvm", device="cpu"))
    monkeypatch.delenv("LIVEBG_OFFLINE")
    with pytest.raises(ModelError, match="downloads are off.*--weights FILE"):
        load_segmenter(ModelConfig(name="rvm", device="cpu", download=False))
    assert len(calls) == 2


@pytest.fixture
def loopback_release(monkeypatch):
    """RVM's release served from this machine over real HTTP: ``cut[0]`` bytes short when set."""
    import http.server
    import threading

    from livebg.segment import weights

    body, cut = RVM_FILE.read_bytes(), [0]

    class Release(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) - cut[0]])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Release)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(weights, "RVM_RELEASE", f"http://127.0.0.1:{server.server_address[1]}/v1.0.0")
    yield cut
    server.shutdown()
    server.server_close()


def test_a_download_over_http_is_whole_or_refused(tmp_path, monkeypatch, loopback_release):
    """pooch and requests for real, over loopback: a connection that ends early leaves nothing."""
    monkeypatch.setenv("LIVEBG_CACHE", str(tmp_path))
    monkeypatch.delenv("LIVEBG_OFFLINE")
    loopback_release[0] = 1000
    with pytest.raises(ModelError, match="was cut short: try again later, or download .* --model selfie"):
        fetch_rvm()
    assert list(tmp_path.iterdir()) == []
    loopback_release[0] = 0
    path = fetch_rvm()
    assert path.read_bytes() == RVM_FILE.read_bytes() and path.stat().st_mode & 0o777 == 0o644
    assert list(tmp_path.iterdir()) == [path]

# -- the model -------------------------------------------------------------------------------------

def test_plan_brings_every_frame_to_the_working_size():
    assert plan_for(480, 854).src_size == (683, 384) and plan_for(480, 854).ratio == 1.0
    assert plan_for(240, 432).src_size == (691, 384)  # small frames are enlarged
    assert plan_for(1080, 1920).src_size == (683, 384)
    big = plan_for(1080, 1920, model_short=384, source_short=1080)
    assert big.src_size == (1920, 1080) and abs(big.ratio - 384 / 1080) < 1e-6 and big.model_short_side == 384


def test_io_binding_matches_a_plain_session_run(rvm, clips, device):
    """The path CUDA uses (state kept as OrtValues where the model runs, on ``device``) against
    ONNX Runtime's plain run on the CPU with numpy state, over consecutive frames, on the graph as
    livebg rewrites it for the CPU."""
    import onnx
    import onnxruntime as ort

    from livebg.segment.onnx_rewrites import aligned_conv_inputs, split_concat_convs

    model = onnx.load(str(RVM_FILE))
    assert without_refiner(model) and split_concat_convs(model) == 8 and aligned_conv_inputs(model) == 0
    plain = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    state = [np.zeros((1, 1, 1, 1), np.float32)] * 4
    bound = rvm if device == "cpu" else RvmSegmenter(RVM_FILE, threads=2, device=device)
    assert bound.device == device
    stream = bound.stream()
    for image, _ in clips["davis_parkour"][:4]:
        plan = rvm.plan(*image.shape[:2])
        x = (downscale(image, plan.src_size).astype(np.float32) / 255).transpose(2, 0, 1)[None]
        _, pha, *state = plain.run(None, {"src": x, "r1i": state[0], "r2i": state[1], "r3i": state[2],
                                          "r4i": state[3], "downsample_ratio": np.array([plan.ratio], np.float32)})
        got = stream.predict([image])[0].alpha
        assert np.abs(got - pha[0, 0]).max() < (1e-4 if device == "cpu" else 2e-3)  # cuDNN sums in another order


def test_the_refiner_is_cut_at_ratio_one_only_and_the_alpha_barely_moves(rvm, clips):
    """At ratio 1 RVM's refiner filters the alpha at the model's own size; without it the alpha
    moves little (measured on lucia: max |d| 0.46 on a few edge pixels, mean 5e-4 to 7e-4, IoU of
    the two alphas 0.990 and up) and
    livebg's matte scores the same or better on all four samples (docs/quality.md)."""
    assert rvm.refiner_cut and "refiner cut" in rvm.rewrites and "8 convolutions of concatenations split" in rvm.rewrites
    as_exported = RvmSegmenter(RVM_FILE, threads=2, rewrite=False)
    assert not as_exported.refiner_cut and as_exported.rewrites == ""
    cut, whole = rvm.stream(), as_exported.stream()
    for image, _ in clips["davis_lucia"][:4]:
        a, b = cut.predict([image])[0].alpha, whole.predict([image])[0].alpha
        assert np.abs(a - b).mean() < 2e-3 and iou(a, b > 0.5) > 0.98
    # frames scaled beyond the model's size need the refiner: it stays, and ratio 1 is enforced where it went
    assert not RvmSegmenter(RVM_FILE, threads=2, source_short=0).refiner_cut
    with pytest.raises(ValueError, match="ratio 0.5.*without RVM's refiner"):
        rvm.run(np.zeros((64, 64, 3), np.uint8), None, 0.5)


def test_state_belongs_to_one_stream(rvm, clips):
    """Two streams interleaved frame by frame give what each gives alone."""
    a, b = clips["davis_lucia"][:4], clips["davis_parkour"][:4]
    s1 = rvm.stream()
    alone_a = [s1.predict([img])[0].alpha for img, _ in a]
    s2 = rvm.stream()
    alone_b = [s2.predict([img])[0].alpha for img, _ in b]
    x, y = rvm.stream(), rvm.stream()
    for (ia, _), (ib, _), ea, eb in zip(a, b, alone_a, alone_b):
        np.testing.assert_allclose(x.predict([ia])[0].alpha, ea, atol=1e-5)
        np.testing.assert_allclose(y.predict([ib])[0].alpha, eb, atol=1e-5)


def test_state_is_dropped_at_a_cut_a_new_size_and_reset(rvm, clips):
    """The cut comes with the frame (found once upstream, frames.cuts, as a video job's segment
    stage finds it): here the detector the stage runs, on the same frames."""
    lucia, parkour = clips["davis_lucia"], clips["davis_parkour"]
    stream: RvmStream = rvm.stream()
    cuts = CutDetector()
    for image, _ in lucia[:3]:
        stream.predict([image], cuts=[cuts(image)])
    assert stream.resets == 0
    after_cut = stream.predict([parkour[0][0]], cuts=[cuts(parkour[0][0])])[0].alpha  # another shot
    assert stream.resets == 1
    np.testing.assert_allclose(after_cut, rvm.stream().predict([parkour[0][0]])[0].alpha, atol=1e-5)
    stream.predict([np.ascontiguousarray(parkour[1][0][::2, ::2])])  # another size
    assert stream.resets == 2
    stream.reset()
    assert stream.resets == 3
    np.testing.assert_allclose(stream.predict([parkour[2][0]])[0].alpha, rvm.stream().predict([parkour[2][0]])[0].alpha, atol=1e-5)


def test_float16_conversion_matches_float32(tmp_path, clips, device):
    """The GPU runs RVM in float16; here an fp16 conversion of the same weights runs on ``device``
    (the CPU by default) against float32 on the CPU on real frames. Measured on the CPU: max |d
    alpha| 0.008, mean 1e-5 on lucia."""
    import warnings

    import onnx
    from onnxconverter_common import float16

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the converter warns for every tiny weight it rounds
        half = float16.convert_float_to_float16(onnx.load(str(RVM_FILE)), keep_io_types=False)
    path = tmp_path / "rvm_mobilenetv3_fp16.onnx"
    onnx.save(half, str(path))
    fp16 = RvmSegmenter(path, threads=2, device=device)
    fp32 = RvmSegmenter(RVM_FILE, threads=2)
    assert fp16.precision == "float16" and fp32.precision == "float32" and fp16.device == device
    s16, s32 = fp16.stream(), fp32.stream()
    for image, _ in clips["davis_lucia"][:3]:
        a16, a32 = s16.predict([image])[0].alpha, s32.predict([image])[0].alpha
        assert a16.dtype == np.float32
        diff = np.abs(a16 - a32)
        assert diff.max() < 0.05 and diff.mean() < 2e-3, (diff.max(), diff.mean())
        assert iou(a16, a32 > 0.5) > 0.995


def test_alpha_on_real_frames_of_every_sample(rvm, clips):
    """The first 12 frames of each labelled sample, as a video job runs them, the model's alpha
    alone (the clips' full scores, with the matte, are in docs/quality.md). Measured means:
    lucia 0.877, parkour 0.933, breakdance 0.946, schoolgirls 0.836; the floors leave ~0.02."""
    floors = {"davis_lucia": 0.855, "davis_parkour": 0.91, "davis_breakdance-flare": 0.925, "davis17_schoolgirls": 0.815}
    for name, pairs in clips.items():
        stream = rvm.stream()
        scores = [iou(at(stream.predict([image])[0].alpha, truth), truth) for image, truth in pairs]
        assert np.mean(scores) > floors[name], (name, scores)


def test_photos_start_from_zero_state_and_settle(rvm, clips):
    image, truth = clips["davis_parkour"][6]
    once = RvmSegmenter(RVM_FILE, threads=2, settle_runs=1)
    settled = rvm.predict([image])[0].alpha
    assert rvm.settle_runs > 1
    assert iou(at(settled, truth), truth) >= iou(at(once.predict([image])[0].alpha, truth), truth) - 0.002
    # unrelated photos: the order they come in does not matter
    other = clips["davis_lucia"][0][0]
    first = rvm.predict([image, other])
    second = rvm.predict([other, image])
    np.testing.assert_allclose(first[0].alpha, second[1].alpha, atol=1e-5)
    assert first[0].foreground is None  # photos: the matte makes the edge colour itself


def test_rvm_runs_on_cuda_only_with_onnx_runtimes_cuda_provider(monkeypatch):
    """torch may see a GPU where the onnxruntime wheel has no CUDA provider: RVM then runs on
    the CPU in float32 (never float16 there), and live auto keeps the selfie model."""
    import onnxruntime as ort

    from livebg.segment import factory

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert factory.rvm_device("cuda") == "cpu" and factory.rvm_device("cpu") == "cpu"
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert factory.rvm_device("cuda") == "cuda"


def test_auto_with_rvms_file_as_weights_runs_rvm(tmp_path):
    """The fallback line says 'pass --weights FILE': with auto, that file is RVM's."""
    choice = choose_model(ModelConfig(device="cpu", weights=str(RVM_FILE)))
    assert choice.spec.name == "rvm"
    segmenter, _ = load_segmenter(ModelConfig(device="cpu", weights=str(RVM_FILE)))
    assert isinstance(segmenter, RvmSegmenter)


def test_the_colour_outside_rvms_box_is_the_frames_near_it_and_zero_further():
    """Outside the box the model ran on, the foreground colour is the frame's own within
    COLOUR_RING px (the edge colour's box, EXTENT_PAD wider than the alpha, may reach a little
    past a side, and must not blend black there) and zeros beyond, where nobody is."""
    from livebg.segment.region import Box
    from livebg.segment.rvm import COLOUR_RING, colour_around

    small = np.random.default_rng(0).integers(1, 256, (100, 160, 3), dtype=np.uint8)
    box = Box(32, 16, 112, 100)  # touches the bottom edge
    colour = colour_around(small, box)
    near = np.zeros((100, 160), bool)
    near[max(0, box.y0 - COLOUR_RING):box.y1 + COLOUR_RING, box.x0 - COLOUR_RING:box.x1 + COLOUR_RING] = True
    near[box.slices()] = False
    np.testing.assert_allclose(colour[near], small[near] / 255, atol=1e-6)
    assert not colour[~near].any()
    assert near.sum() == (box.x1 - box.x0 + 2 * COLOUR_RING) * (box.y1 - box.y0 + COLOUR_RING) - 80 * 84
