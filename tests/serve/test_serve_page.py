"""The web page in a real browser: Debian's headless Chromium driven by Selenium. A portrait
with a white background, checked pixel by pixel from the page's result, and a short video
followed to its download. Screenshots go to the test's folder (and to $LIVEBG_SCREENSHOTS
when set, to look at)."""
from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support import write_clip
from tests.support.serve_helpers import PORTRAIT, running_server, settings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    if not (CHROMIUM and DRIVER):  # scripts/setup.sh installs both where it can; each test says how otherwise
        pytest.fail("the web page tests need Debian's chromium and chromium-driver: "
                    "sudo apt-get install -y chromium chromium-driver (or run bash scripts/setup.sh as root)",
                    pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,1400",
                 "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def screenshot(driver, path: Path) -> None:
    driver.save_screenshot(str(path))
    if os.environ.get("LIVEBG_SCREENSHOTS"):
        target = Path(os.environ["LIVEBG_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)


def wait_text(driver, element_id: str, text: str, timeout: float = 120) -> None:
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: text in d.find_element("id", element_id).text or d.find_element("id", "error").text)
    error = driver.find_element("id", "error").text
    assert not error, error
    WebDriverWait(driver, 5).until(ec.visibility_of_element_located(("id", "result")))


def result_bytes(driver) -> bytes:
    """The download link's blob, read in the page."""
    data = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(document.getElementById('download').href).then(r => r.blob()).then(b => {
          const reader = new FileReader();
          reader.onload = () => done(reader.result.split(',')[1]);
          reader.readAsDataURL(b);
        });""")
    return base64.b64decode(data)


def test_a_portrait_on_white_in_the_browser(browser, tmp_path):
    with running_server(settings(tmp_path, access_log=False)) as client:
        browser.get(str(client.base_url) + "/")
        assert browser.title.startswith("livebg")
        browser.find_element("id", "file").send_keys(str(PORTRAIT))
        browser.find_element("css selector", "input[name=bg][value=white]").click()
        browser.find_element("id", "start").click()
        wait_text(browser, "status", "is ready")
        screenshot(browser, tmp_path / "page_photo.png")
        data = result_bytes(browser)
        assert browser.find_element("id", "download").get_attribute("download") == f"{PORTRAIT.stem}_livebg.jpg"
        # the focus moved to the result for keyboard and screen-reader users
        assert browser.switch_to.active_element.get_attribute("id") == "result-title"
        # what the page shows and offers is what the API answers for the same choice
        direct = client.post("/v1/images", files={"file": (PORTRAIT.name, PORTRAIT.read_bytes())}, data={"bg": "white"})
    assert data == direct.content
    result = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    original = cv2.imread(str(PORTRAIT))
    assert result.shape == original.shape
    assert result[:20, :20].min() > 240  # the old background's corner is white now
    h, w = result.shape[:2]
    face = (slice(int(h * 0.22), int(h * 0.3)), slice(int(w * 0.56), int(w * 0.62)))  # the doctor's face
    assert np.abs(result[face].astype(int) - original[face].astype(int)).mean() < 8


def test_a_video_followed_to_its_download(browser, tmp_path):
    clip = write_clip(tmp_path / "walk.mp4", frames=60, rate=30)
    with running_server(settings(tmp_path, access_log=False)) as client:
        browser.get(str(client.base_url) + "/")
        browser.find_element("id", "file").send_keys(str(clip))
        browser.find_element("css selector", "input[name=bg][value=color]").click()
        browser.find_element("id", "start").click()
        wait_text(browser, "status", "is ready")
        screenshot(browser, tmp_path / "page_video.png")
        data = result_bytes(browser)
        link = browser.find_element("id", "download")
        assert link.get_attribute("download") == "walk_livebg.mp4"
        assert browser.find_element("css selector", "#after video") is not None
        assert browser.find_element("id", "progress").get_attribute("value") == "1"
        jobs = client.get("/v1/jobs").json()["jobs"]
        assert jobs[0]["state"] == "done" and jobs[0]["frames_done"] == 60
    (tmp_path / "out.mp4").write_bytes(data)
    from tests.support.serve_helpers import decode_count

    assert decode_count(tmp_path / "out.mp4") == 60


def test_a_refused_upload_shows_its_one_line(browser, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    with running_server(settings(tmp_path, access_log=False)) as client:
        browser.get(str(client.base_url) + "/")
        browser.find_element("id", "file").send_keys(str(bad))
        browser.find_element("id", "start").click()
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(browser, 30).until(lambda d: d.find_element("id", "error").text)
        assert "not a photo livebg can read" in browser.find_element("id", "error").text
        assert browser.find_element("id", "error").get_attribute("role") == "alert"
