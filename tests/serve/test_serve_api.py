"""`livebg serve` over HTTP: a real uvicorn server on a loopback port, driven with httpx.
Every route, every refusal (with nothing left in --data-dir), tokens and job ownership,
progress as server-sent events, range requests, cancel mid-job, and a full queue."""
from __future__ import annotations

import json
import threading
import time
import zipfile
from io import BytesIO

import cv2
import numpy as np
import pytest

from tests.support import SHARED, write_clip
from tests.support.cli_process import make_bad_media
from tests.support.serve_helpers import (
    PORTRAIT,
    assert_clean,
    decode_count,
    files_under,
    image_array,
    running_server,
    settings,
    wait_for,
)

TOKEN_A = "token-a-0123456789abcdef"
TOKEN_B = "token-b-0123456789abcdef"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clip") / "walk.mp4", frames=24, rate=30)


@pytest.fixture
def server(tmp_path):
    with running_server(settings(tmp_path)) as client:
        client.data_dir = tmp_path / "data"  # type: ignore[attr-defined]
        yield client


# -- about the server -----------------------------------------------------------------------------
def test_health_models_metrics_page_and_docs(server):
    health = server.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    models = server.get("/v1/models").json()
    assert "selfie" in models["default"]["describe"] and "rvm" in models["request_names"]
    assert {row["name"] for row in models["models"]} >= {"rvm", "selfie"}
    page = server.get("/")
    assert page.status_code == 200 and "<form" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    # nothing loaded from elsewhere: every src/href of the page and its script is local
    for asset in ("/", "/static/app.js", "/static/style.css", "/docs", "/static/docs.js"):
        text = server.get(asset).text
        assert "http://" not in text and "https://" not in text, asset
    assert server.get("/docs").status_code == 200
    spec = server.get("/openapi.json").json()
    assert {"/v1/images", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/events",
            "/v1/jobs/{job_id}/result", "/v1/models"} <= set(spec["paths"])
    server.post("/v1/images", files={"file": ("x.jpg", b"")})
    metrics = server.get("/metrics")
    assert metrics.status_code == 200
    for name in ("livebg_http_requests_total", "livebg_http_request_seconds_bucket", "livebg_jobs_queue_depth",
                 "livebg_jobs{", "livebg_frames_processed_total", "livebg_rejections_total"):
        assert name in metrics.text, name
    assert 'route="/v1/images",status="400"' in metrics.text
    missing = server.get("/v1/nothing")
    assert missing.status_code == 404 and "no such route" in missing.json()["error"]


# -- photos -------------------------------------------------------------------------------------
def test_photo_matches_livebg_image(server, tmp_path):
    from livebg.cli import main

    answer = server.post("/v1/images", files={"file": (PORTRAIT.name, PORTRAIT.read_bytes(), "image/jpeg")},
                         data={"bg": "white", "format": "png"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/png"
    assert PORTRAIT.stem in answer.headers["content-disposition"]
    served = cv2.cvtColor(image_array(answer.content), cv2.COLOR_BGR2RGB)
    assert main(["image", str(PORTRAIT), "-o", str(tmp_path / "cli.png"), "--bg", "white", "--model", "selfie", "-q"]) == 0
    cli = cv2.cvtColor(cv2.imread(str(tmp_path / "cli.png")), cv2.COLOR_BGR2RGB)
    assert served.shape == cli.shape
    # the same job as the CLI (the decoders may round a JPEG's pixels differently: ±few levels)
    diff = np.abs(served.astype(int) - cli.astype(int))
    assert np.mean(diff) < 1.0 and np.percentile(diff, 99.9) <= 24
    assert served[0:20, 0:20].min() > 240  # a corner of the old background is now white
    assert_clean(server.data_dir)


def test_photo_formats_alpha_and_transparency(server):
    photo = {"file": (PORTRAIT.name, PORTRAIT.read_bytes())}
    jpg = server.post("/v1/images", files=photo, data={"bg": "#336699"})
    assert jpg.status_code == 200 and jpg.headers["content-type"] == "image/jpeg"
    webp = server.post("/v1/images", files=photo, data={"bg": "blur", "format": "webp"})
    assert webp.headers["content-type"] == "image/webp" and image_array(webp.content).ndim == 3
    cut = server.post("/v1/images", files=photo, data={"bg": "transparent"})
    rgba = image_array(cut.content)
    assert cut.headers["content-type"] == "image/png" and rgba.shape[2] == 4
    assert rgba[..., 3].min() == 0 and rgba[..., 3].max() == 255
    alpha = server.post("/v1/images", files=photo, data={"alpha_only": "true"})
    matte = image_array(alpha.content)
    assert matte.ndim == 2 and np.array_equal(matte > 127, rgba[..., 3] > 127)
    refused = server.post("/v1/images", files=photo, data={"bg": "transparent", "format": "jpg"})
    assert refused.status_code == 400 and "transparency" in refused.json()["error"]


def test_several_photos_come_back_in_a_zip_with_the_failures_named(server):
    files = [("file", ("a.jpg", PORTRAIT.read_bytes())), ("file", ("a.jpg", PORTRAIT.read_bytes())),
             ("file", ("notes.jpg", b"not a picture at all"))]
    answer = server.post("/v1/images", files=files, data={"bg": "white"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(BytesIO(answer.content))
    assert sorted(archive.namelist()) == ["a_livebg.jpg", "a_livebg_2.jpg", "failed.json"]
    failed = json.loads(archive.read("failed.json"))
    assert failed[0]["file"] == "notes.jpg" and failed[0]["code"] == "unsupported_media"
    assert_clean(server.data_dir)


def test_a_background_upload_is_used_and_a_path_as_bg_is_refused(server):
    backdrop = np.zeros((90, 160, 3), np.uint8)
    backdrop[:] = (0, 0, 255)  # BGR red
    _, png = cv2.imencode(".png", backdrop)
    answer = server.post("/v1/images", files={"file": (PORTRAIT.name, PORTRAIT.read_bytes()),
                                              "bg_file": ("red.png", png.tobytes())}, data={"format": "png"})
    assert answer.status_code == 200, answer.text
    corner = image_array(answer.content)[0:20, 0:20]
    assert corner[..., 2].min() > 230 and corner[..., :2].max() < 30
    for bg in ("/etc/hostname", "../README.md", "C:\\x.jpg", "~/x.jpg"):
        refused = server.post("/v1/images", files={"file": (PORTRAIT.name, PORTRAIT.read_bytes())}, data={"bg": bg})
        assert refused.status_code == 400 and "bg_file" in refused.json()["error"], bg
    assert server.post("/v1/images", files={"file": (PORTRAIT.name, PORTRAIT.read_bytes())},
                       data={"model": "/tmp/evil.onnx"}).status_code == 400
    assert_clean(server.data_dir)


# -- bad inputs: a 4xx with one line, nothing on disk -----------------------------------------------
def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _bomb() -> bytes:
    _, png = cv2.imencode(".png", np.zeros((3000, 3000), np.uint8))  # 9 MP of zeros: a few kB
    return png.tobytes()


@pytest.mark.parametrize("name, data, status, code", [
    ("empty.jpg", b"", 400, "empty_file"),
    ("half.jpg", None, 400, "damaged_file"),
    ("half.png", "png", 400, "damaged_file"),
    ("letter.jpg", b"Dear Sir, this is not a JPEG." * 50, 415, "unsupported_media"),
    ("bomb.png", "bomb", 413, "too_many_pixels"),
    ("../../../etc/evil.jpg", b"", 400, "empty_file"),
])
def test_bad_photos_are_refused(server, name, data, status, code):
    if data is None:
        data = _truncated(PORTRAIT.read_bytes())
    elif data == "png":
        data = _truncated(cv2.imencode(".png", cv2.imread(str(PORTRAIT)))[1].tobytes())
    elif data == "bomb":
        data = _bomb()
    answer = server.post("/v1/images", files={"file": (name, data)})
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == code and "\n" not in body["error"] and "/etc" not in body["error"]
    assert_clean(server.data_dir)
    assert not (server.data_dir.parent / "etc").exists()


def test_a_video_sent_as_a_photo_and_a_photo_sent_as_a_video(server, clip):
    as_photo = server.post("/v1/images", files={"file": ("holiday.jpg", clip.read_bytes(), "image/jpeg")})
    assert as_photo.status_code == 415
    as_video = server.post("/v1/jobs", files={"file": ("holiday.mp4", PORTRAIT.read_bytes(), "video/mp4")})
    assert as_video.status_code == 415 and "/v1/images" in as_video.json()["error"]
    assert_clean(server.data_dir)


def test_uploads_over_the_limit_are_refused_whole_and_streamed(server):
    big = b"\0" * 6_000_000
    declared = server.post("/v1/images", files={"file": ("big.jpg", big)})
    assert declared.status_code == 413 and "5 MB" in declared.json()["error"]

    def chunks():  # no Content-Length: the limit is found while the body streams in
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
        for _ in range(7):
            yield b"\0" * 1_000_000

    streamed = server.post("/v1/jobs", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert streamed.status_code == 413
    assert_clean(server.data_dir)


def test_bad_videos_are_refused(server, tmp_path):
    bad = make_bad_media(tmp_path, SHARED)
    # damage inside an intact index shows only when the frames are decoded: the job fails
    garbled = server.post("/v1/jobs", files={"file": ("garbled.mp4", bad["garbled"].read_bytes())})
    assert garbled.status_code == 202
    failed = wait_for(server, garbled.json()["id"])
    assert failed["state"] == "failed" and failed["result_url"] is None
    assert failed["error"].startswith("garbled.mp4 is truncated or corrupt") and str(tmp_path) not in failed["error"]
    assert server.get(f"/v1/jobs/{failed['id']}/result").status_code == 409
    server.delete(f"/v1/jobs/{failed['id']}")
    for name in ("text", "truncated", "cut", "cut_at_packet", "audio", "zero", "bad_bg"):
        path = bad[name]
        answer = server.post("/v1/jobs", files={"file": (path.name, path.read_bytes())})
        assert 400 <= answer.status_code < 500, (name, answer.status_code, answer.text)
        assert "\n" not in answer.json()["error"]
    long = write_clip(tmp_path / "long.mp4", frames=700, rate=30, size=(64, 36))  # 23 s, over the 20 s limit
    answer = server.post("/v1/jobs", files={"file": ("long.mp4", long.read_bytes())})
    assert answer.status_code == 413 and answer.json()["code"] == "too_long"
    bad_setting = server.post("/v1/jobs", files={"file": ("x.mp4", long.read_bytes())}, data={"preset": "ludicrous"})
    assert bad_setting.status_code == 400 and "preset" in bad_setting.json()["error"]
    assert_clean(server.data_dir)


# -- video jobs -----------------------------------------------------------------------------------
def test_video_job_progress_events_result_with_ranges_and_delete(server, clip):
    answer = server.post("/v1/jobs", files={"file": ("walk.mp4", clip.read_bytes())}, data={"bg": "green"})
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert answer.headers["location"] == f"/v1/jobs/{job['id']}" and len(job["id"]) >= 22
    states = []
    with server.stream("GET", f"/v1/jobs/{job['id']}/events") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        for line in events.iter_lines():
            if line.startswith("data: "):
                states.append(json.loads(line[6:]))
    assert states[-1]["state"] == "done" and states[-1]["frames_done"] == 24
    done = server.get(f"/v1/jobs/{job['id']}").json()
    assert done["frames_total"] == 24 and done["result_name"] == "walk_livebg.mp4" and done["error"] is None
    result = server.get(done["result_url"])
    assert result.status_code == 200 and result.headers["accept-ranges"] == "bytes"
    part = server.get(done["result_url"], headers={"Range": "bytes=10-99"})
    assert part.status_code == 206 and part.content == result.content[10:100]
    out = server.data_dir / "result.mp4"
    out.write_bytes(result.content)
    assert decode_count(out) == 24
    out.unlink()
    listed = server.get("/v1/jobs").json()["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]
    assert server.delete(f"/v1/jobs/{job['id']}").status_code == 204
    assert server.get(f"/v1/jobs/{job['id']}").status_code == 404
    assert_clean(server.data_dir)


def test_result_before_done_is_409_and_cancel_mid_job_leaves_nothing(tmp_path):
    from tests.support.serve_helpers import DOCTOR

    with running_server(settings(tmp_path, max_upload_mb=50, max_video_seconds=60)) as client:
        data_dir = tmp_path / "data"
        job = client.post("/v1/jobs", files={"file": ("doctor.mp4", DOCTOR.read_bytes())}).json()
        running = wait_for(client, job["id"], states=("running",))
        while client.get(f"/v1/jobs/{job['id']}").json()["frames_done"] < 5:
            time.sleep(0.05)
        early = client.get(f"/v1/jobs/{job['id']}/result")
        assert early.status_code == 409 and "still running" in early.json()["error"]
        assert running["state"] == "running"
        assert client.delete(f"/v1/jobs/{job['id']}").status_code == 204
        deadline = time.monotonic() + 30
        while files_under(data_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert_clean(data_dir)
        metrics = client.get("/metrics").text
        assert "livebg_frames_processed_total" in metrics


def test_a_full_queue_answers_429_with_retry_after_and_never_5xx(tmp_path):
    from tests.support.serve_helpers import DOCTOR

    with running_server(settings(tmp_path, max_upload_mb=50, max_video_seconds=60, queue_size=1)) as client:
        video = DOCTOR.read_bytes()
        answers = [client.post("/v1/jobs", files={"file": ("d.mp4", video)}, data={"bg": "white"}) for _ in range(4)]
        codes = [a.status_code for a in answers]
        assert codes[:2] == [202, 202] and set(codes[2:]) == {429}, codes
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert answers[-1].json()["code"] == "queue_full"
        for a in answers[:2]:
            client.delete(f"/v1/jobs/{a.json()['id']}")


def test_concurrent_jobs_do_not_share_state(tmp_path, clip):
    """Two jobs of the same video at once (two workers, one shared model) give exactly what
    one job alone gives: smoothing and the person follower belong to each job."""
    with running_server(settings(tmp_path, workers=2)) as client:
        alone = client.post("/v1/jobs", files={"file": ("w.mp4", clip.read_bytes())}, data={"bg": "white"}).json()
        wait_for(client, alone["id"])
        reference = client.get(f"/v1/jobs/{alone['id']}/result").content
        pair = [client.post("/v1/jobs", files={"file": ("w.mp4", clip.read_bytes())}, data={"bg": "white"}).json()
                for _ in range(2)]
        results = []
        for job in pair:
            assert wait_for(client, job["id"])["state"] == "done"
            results.append(client.get(f"/v1/jobs/{job['id']}/result").content)
    frames = []
    for n, data in enumerate([reference, *results]):
        path = tmp_path / f"r{n}.mp4"
        path.write_bytes(data)
        import av

        with av.open(str(path)) as c:
            frames.append(np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]))
    assert frames[0].shape == frames[1].shape == frames[2].shape
    assert np.array_equal(frames[1], frames[0]) and np.array_equal(frames[2], frames[0])


# -- tokens ---------------------------------------------------------------------------------------
def test_tokens_guard_every_route_and_own_their_jobs(tmp_path, clip):
    with running_server(settings(tmp_path, tokens=(TOKEN_A, TOKEN_B))) as client:
        a = {"Authorization": f"Bearer {TOKEN_A}"}
        b = {"Authorization": f"Bearer {TOKEN_B}"}
        assert client.get("/healthz").status_code == 200  # for load balancers
        for method, path in (("GET", "/v1/models"), ("GET", "/v1/jobs"), ("POST", "/v1/images"), ("POST", "/v1/jobs"),
                             ("GET", "/v1/jobs/x"), ("DELETE", "/v1/jobs/x"), ("GET", "/metrics")):
            bare = client.request(method, path)
            assert bare.status_code == 401 and bare.headers["www-authenticate"].startswith("Bearer"), (method, path)
            wrong = client.request(method, path, headers={"Authorization": "Bearer nope-nope-nope-nope"})
            assert wrong.status_code == 401 and "not valid" in wrong.json()["error"]
        job = client.post("/v1/jobs", files={"file": ("w.mp4", clip.read_bytes())}, headers=a).json()
        assert wait_for(client, job["id"], **a)["state"] == "done"
        assert client.get(f"/v1/jobs/{job['id']}", headers=b).status_code == 404  # as if it did not exist
        assert client.get(f"/v1/jobs/{job['id']}/result", headers=b).status_code == 404
        assert client.delete(f"/v1/jobs/{job['id']}", headers=b).status_code == 404
        assert client.get("/v1/jobs", headers=b).json()["jobs"] == []
        assert client.get(f"/v1/jobs/{job['id']}/result", headers=a).status_code == 200


def test_cors_is_off_unless_configured(tmp_path):
    origin = {"Origin": "https://example.org"}
    with running_server(settings(tmp_path)) as client:
        assert "access-control-allow-origin" not in client.get("/healthz", headers=origin).headers
    with running_server(settings(tmp_path, cors_origins=("https://example.org",))) as client:
        assert client.get("/healthz", headers=origin).headers["access-control-allow-origin"] == "https://example.org"


# -- retention ------------------------------------------------------------------------------------
def test_finished_jobs_expire_after_the_retention_time(server, clip):
    job = server.post("/v1/jobs", files={"file": ("w.mp4", clip.read_bytes())}).json()
    done = wait_for(server, job["id"])
    manager = server.app.state.manager
    assert manager.expire(now=done["finished"] + 3600) == []  # kept within the 24 h
    assert manager.expire(now=done["finished"] + 25 * 3600) == [job["id"]]
    assert server.get(f"/v1/jobs/{job['id']}").status_code == 404
    assert_clean(server.data_dir)


def test_concurrent_photo_requests_all_succeed(server):
    photo = PORTRAIT.read_bytes()
    codes: list[int] = []

    def one():
        codes.append(server.post("/v1/images", files={"file": ("p.jpg", photo)}, data={"bg": "white"}).status_code)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 6
