"""Output round trips through PyAV: frames, size, rate, duration, timestamps and audio match the
input; transparency survives in the formats that can hold it; odd sizes work."""
from __future__ import annotations

import time
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from livebg.cli import main
from livebg.config import Config
from livebg.jobs import run_video
from tests.support import (
    NTSC,
    ConstantSegmenter,
    read_video,
    write_clip,
)


@pytest.fixture(scope="module")
def talking(tmp_path_factory, shared):
    """A short H.264 + AAC clip made from the doctor video (real person), 29.97 fps, 40 frames."""
    return write_clip(tmp_path_factory.mktemp("talking") / "talking.mp4", frames=40, size=(480, 270), crf=18, audio=True)


def video_facts(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        pts = [f.pts for f in c.decode(v)]
        audio = c.streams.audio[0] if c.streams.audio else None
        return {
            "frames": len(pts), "size": (v.width, v.height), "rate": v.average_rate, "pts_seconds": [p * v.time_base for p in pts],
            "duration": float(v.duration * v.time_base) if v.duration else c.duration / 1e6, "pix_fmt": v.codec_context.pix_fmt, "codec": v.codec_context.name,
            "audio": audio.codec_context.name if audio else None,
            "audio_seconds": float(audio.duration * audio.time_base) if audio and audio.duration else None,
        }


def test_round_trip_keeps_frames_size_rate_timestamps_and_audio(talking, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["video", str(talking), "--bg", "white", "-o", str(out)]) == 0
    src, got = video_facts(talking), video_facts(out)
    for key in ("frames", "size", "rate", "pts_seconds", "codec", "pix_fmt"):
        assert got[key] == src[key], key
    assert got["duration"] == pytest.approx(src["duration"], abs=0.04)
    assert got["audio"] == "aac" and got["audio_seconds"] == pytest.approx(src["audio_seconds"], abs=0.05)
    err = capsys.readouterr().err
    assert "audio copied" in err and "model selfie" in err and "40 frames" in err
    assert "the crop follows the person, whole frame every 8 frames" in err
    # the person is kept and the background is white
    images, _ = read_video(out)
    assert images[0][5:20, 5:20].mean() > 240
    assert images[0][100:200, 300:380].mean() < 235


def test_no_audio_and_webm_reencodes_audio(talking, tmp_path):
    quiet = tmp_path / "quiet.mp4"
    assert main(["video", str(talking), "--no-audio", "-o", str(quiet), "-q"]) == 0
    assert video_facts(quiet)["audio"] is None
    webm = tmp_path / "out.webm"
    assert main(["video", str(talking), "--bg", "black", "-o", str(webm), "-q"]) == 0
    facts = video_facts(webm)
    assert facts["codec"] == "vp9" and facts["audio"] == "opus" and facts["frames"] == 40


def test_webm_resamples_audio_opus_cannot_take(tmp_path, shared):
    """Opus takes 8/12/16/24/48 kHz only; 44.1 kHz (CDs, many cameras) is resampled to 48 kHz."""
    clip = write_clip(tmp_path / "cd.mp4", frames=20, size=(480, 270), crf=30, audio=True, audio_rate=44100)
    webm = tmp_path / "out.webm"
    assert main(["video", str(clip), "--bg", "white", "-o", str(webm), "-q"]) == 0
    facts = video_facts(webm)
    assert facts["audio"] == "opus" and facts["frames"] == 20
    with av.open(str(webm)) as c:
        assert c.streams.audio[0].rate == 48000
        seconds = sum(f.samples for f in c.decode(audio=0)) / 48000
    assert seconds == pytest.approx(20 / float(NTSC), abs=0.05)


def test_avi_keeps_the_rate_and_the_order_of_frames_and_copies_aac(talking, tmp_path, capsys):
    """AVI stores no decode order, so x264 must not use B-frames there (they scrambled the times);
    its time base is one frame (given the input's, FFmpeg declared 600 fps and 20x the frames);
    and it takes AAC as it is (it was re-encoded to AAC)."""
    avi = tmp_path / "out.avi"
    assert main(["video", str(talking), "--bg", "white", "-o", str(avi)]) == 0
    assert "(audio copied)" in capsys.readouterr().err
    with av.open(str(avi)) as c:
        v = c.streams.video[0]
        assert v.average_rate == NTSC
        assert c.streams.audio[0].codec_context.name == "aac"
        times = [f.time for f in c.decode(video=0)]
    with av.open(str(avi)) as c:
        audio_seconds = sum(f.samples for f in c.decode(audio=0)) / c.streams.audio[0].rate
    assert len(times) == 40 and times == sorted(times)
    assert times[-1] - times[0] == pytest.approx(39 / float(NTSC), abs=1e-3)
    assert audio_seconds == pytest.approx(40 / float(NTSC), abs=0.05)


def test_avi_from_variable_rate_input_keeps_each_frames_time(tmp_path):
    """Ticking at the average rate (20.7 fps here) put two of the 30 fps frames on one tick and the
    muxer refused the file; AVI now ticks at the input's base rate (30) and leaves gaps."""
    vfr = tmp_path / "vfr.mp4"
    with av.open(str(vfr), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"bf": "0"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 90000)
        pts = 0
        for j in range(40):  # 1 s at 30 fps, then 1 s at 10 fps
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), j * 6, np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 90000)
            for packet in stream.encode(frame):
                out.mux(packet)
            pts += 3000 if j < 30 else 9000
        for packet in stream.encode():
            out.mux(packet)
    avi = tmp_path / "vfr.avi"
    run_video(str(vfr), avi, Config().override("background", bg="white"), segmenter=ConstantSegmenter(0.0), progress=False)
    with av.open(str(avi)) as c:  # the packets' dts: FFmpeg's AVI reader derives each pts from the next one
        times = [float(p.dts * p.time_base) for p in c.demux(video=0) if p.dts is not None]
    steps = np.diff(times)
    assert len(times) == 40
    assert np.allclose(steps[:30], 1 / 30, atol=1e-3) and np.allclose(steps[30:], 1 / 10, atol=1e-3)


@pytest.mark.parametrize("ext,codec", [(".mov", "prores"), (".webm", "vp9")])
def test_transparent_output_keeps_alpha(talking, tmp_path, ext, codec):
    out = tmp_path / f"cutout{ext}"
    assert main(["video", str(talking), "--bg", "transparent", "-o", str(out), "-q", "--no-audio"]) == 0
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        if codec == "vp9":  # FFmpeg's native VP9 decoder drops alpha; libvpx keeps it
            ctx = av.CodecContext.create("libvpx-vp9", "r")
            ctx.extradata = v.codec_context.extradata
            frames = [f for p in c.demux(v) for f in ctx.decode(p)]
        else:
            frames = list(c.decode(v))
        assert v.codec_context.name == codec
        rgba = frames[0].to_ndarray(format="rgba")
    assert len(frames) == 40
    alpha = rgba[..., 3]
    assert alpha[:20, :20].mean() < 30  # background corner is transparent
    assert alpha[120:200, 300:380].mean() > 200  # the person is opaque


def test_png_directory_output_and_alpha_out(talking, tmp_path):
    out, matte = tmp_path / "frames", tmp_path / "matte"
    assert main(["video", str(talking), "--bg", "transparent", "-o", str(out), "--alpha-out", str(matte), "-q"]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files[:2] == ["00000.png", "00001.png"] and len(files) == 40 and len(list(matte.iterdir())) == 40
    rgba = cv2.imread(str(out / "00007.png"), cv2.IMREAD_UNCHANGED)
    gray = cv2.imread(str(matte / "00007.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (270, 480, 4) and gray.shape == (270, 480) and gray.dtype == np.uint8
    assert np.abs(rgba[..., 3].astype(int) - gray).max() <= 1
    video_matte = tmp_path / "matte.mp4"
    assert main(["video", str(talking), "--bg", "none", "-o", str(tmp_path / "o.mp4"), "--alpha-out", str(video_matte), "-q"]) == 0
    assert video_facts(video_matte)["frames"] == 40


def test_odd_frame_size_is_padded_and_said(tmp_path, capsys):
    src = write_clip(tmp_path / "odd.mov", picture="index", frames=5, rate=Fraction(25), size=(65, 47))
    out = tmp_path / "odd.mp4"
    run_video(str(src), out, Config().override("background", bg="green"), segmenter=ConstantSegmenter(0.0), progress=False)
    assert "padding to 66x48" in capsys.readouterr().err
    facts = video_facts(out)
    assert facts["size"] == (66, 48) and facts["frames"] == 5
    frame = read_video(out)[0][0]
    assert np.abs(frame[20, 30].astype(int) - (0, 177, 64)).max() < 12


def test_image_sequence_input_at_given_fps(tmp_path, shared):
    frames = sorted((shared / "media/labeled/davis_lucia/JPEGImages").glob("*.jpg"))[:6]
    out = tmp_path / "seq.mp4"
    assert main(["video", str(frames[0].parent), "--fps", "29.97", "-o", str(out), "-q", "--bg", "gray"]) == 0
    facts = video_facts(out)
    assert facts["frames"] == 70 and facts["rate"] == NTSC and facts["size"] == (854, 480)
    glob_out = tmp_path / "glob.mp4"
    assert main(["video", str(frames[0].parent / "0000[0-5].jpg"), "--fps", "25", "-o", str(glob_out), "-q"]) == 0
    facts = video_facts(glob_out)
    assert facts["frames"] == 6 and facts["rate"] == 25


def test_one_photo_plays_at_fps_and_fps_on_a_video_is_said_to_be_ignored(tmp_path, shared, capsys):
    """A photo was decoded by FFmpeg's image demuxer at its 25 fps whatever --fps said; and --fps on a
    video file was dropped without a word."""
    photo = shared / "media/labeled/davis_lucia/JPEGImages/00000.jpg"
    out = tmp_path / "photo.mp4"
    assert main(["video", str(photo), "--fps", "10", "-o", str(out), "-q", "--bg", "gray"]) == 0
    facts = video_facts(out)
    assert facts["frames"] == 1 and facts["rate"] == 10 and facts["size"] == (854, 480)
    assert "one-frame video" in capsys.readouterr().err
    video = tmp_path / "v.mp4"
    assert main(["video", str(shared / "media/videos/thoughtful.mp4"), "--fps", "10", "-o", str(video), "-q",
                 "--bg", "gray", "--model", str(shared / "models/mediapipe_selfie_256x256.onnx")]) == 0
    err = capsys.readouterr().err
    assert "fps 10 (--fps or the preset) is for image sequences" in err and "keeps its own 29.970 fps" in err
    # --fps 30 is said too (30 is only the default when none is given); without it, nothing is said
    assert main(["video", str(shared / "media/videos/thoughtful.mp4"), "--fps", "30", "-o", str(tmp_path / "b.mp4"),
                 "-q", "--bg", "gray"]) == 0
    assert "keeps its own" in capsys.readouterr().err
    assert main(["video", str(shared / "media/videos/thoughtful.mp4"), "-o", str(tmp_path / "c.mp4"), "-q",
                 "--bg", "gray"]) == 0
    assert "keeps its own" not in capsys.readouterr().err
    assert video_facts(video)["rate"] == NTSC


def test_the_reported_time_includes_closing_the_file(talking, tmp_path, monkeypatch):
    """x264 holds the last frames until the file is closed: fps counts that flush (and the
    floor in scripts/benchmark.py is timed over the same span)."""
    from livebg.sinks.video import VideoFileSink

    close, write = VideoFileSink.close, VideoFileSink.write_i420
    first_write, closed = [], []

    def timed_write(self, *args):
        first_write.append(first_write[0] if first_write else time.perf_counter())
        return write(self, *args)

    def slow_close(self):
        time.sleep(0.5)
        path = close(self)
        closed.append(time.perf_counter())
        return path

    monkeypatch.setattr(VideoFileSink, "write_i420", timed_write)
    monkeypatch.setattr(VideoFileSink, "close", slow_close)
    result = run_video(str(talking), tmp_path / "out.mp4", Config().override("background", bg="white"),
                       segmenter=ConstantSegmenter(1.0), progress=False)
    assert result.frames == 40 == len(first_write)
    # the job's clock started before the first frame was written and stopped after the close
    assert result.seconds >= closed[0] - first_write[0] >= 0.5


def test_png_frames_say_the_audio_is_not_kept(talking, tmp_path, capsys):
    assert main(["video", str(talking), "--bg", "white", "-o", str(tmp_path / "frames") + "/", "-q"]) == 0
    assert "holds no sound" in capsys.readouterr().err
    assert main(["video", str(talking), "--bg", "white", "-o", str(tmp_path / "frames2") + "/", "-q", "--no-audio"]) == 0
    assert "holds no sound" not in capsys.readouterr().err


def test_an_animated_webp_background_says_it_shows_its_first_frame(talking, tmp_path, capsys):
    from PIL import Image

    frames = [Image.fromarray(np.full((40, 60, 3), c, np.uint8)) for c in (0, 100, 200)]
    webp = tmp_path / "anim.webp"
    frames[0].save(webp, save_all=True, append_images=frames[1:], duration=100, loop=0)
    still = tmp_path / "still.webp"
    frames[1].save(still)
    assert main(["video", str(talking), "--bg", str(webp), "-o", str(tmp_path / "a.mp4"), "-q"]) == 0
    assert "animated WebP" in capsys.readouterr().err
    assert main(["video", str(talking), "--bg", str(still), "-o", str(tmp_path / "b.mp4"), "-q"]) == 0
    assert "animated WebP" not in capsys.readouterr().err
