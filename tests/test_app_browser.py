"""The web app in a real browser: Debian's headless Chromium, driven by Selenium, uploads a
photo to the page tools/app.py serves and gets the translation back.

Without chromium and chromedriver (``apt-get install chromium chromium-driver``, which .ci/run
does) this fails under CI and is skipped elsewhere. With PPUGATIT_SCREENSHOT=PATH the page's
screenshot is also written there, and PPUGATIT_APP_WEIGHTS=W serves W (64 px) instead of
initialised weights: the README's picture is made so, with the demo weights.
"""
import os
import shutil
import urllib.request

import numpy as np
import pytest
from skimage import data

from app_server import AppServer, tiny_weights
from ppugatit.data.image_io import write_image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SIZE = 64
# without the background-networking switches Chromium keeps calling home, which a closed
# network answers slowly
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1400"]


@pytest.fixture
def browser(tmp_path):
    if not (CHROMIUM and CHROMEDRIVER):
        message = ("no chromium/chromedriver on PATH; install them with "
                   "`apt-get install chromium chromium-driver`")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def fetch_image(src: str) -> np.ndarray:
    import cv2

    with urllib.request.urlopen(src, timeout=30) as r:
        return cv2.imdecode(np.frombuffer(r.read(), np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]


@pytest.mark.slow
def test_upload_a_photo_and_see_it_translated(tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    server = AppServer(tmp_path, os.environ.get("PPUGATIT_APP_WEIGHTS") or tiny_weights(tmp_path))
    try:
        photo = tmp_path / "astronaut.png"
        write_image(str(photo), data.astronaut())
        browser.get(server.url)
        wait = WebDriverWait(browser, 90)
        upload = wait.until(EC.presence_of_element_located(
            (By.CSS_SELECTOR, "#photos input[type=file]")))
        upload.send_keys(str(photo))
        wait.until(EC.presence_of_element_located(
            (By.CSS_SELECTOR, "#photos [aria-label='astronaut.png']")))
        wait.until(EC.element_to_be_clickable((By.ID, "run"))).click()
        out = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#output img")))
        wait.until(EC.text_to_be_present_in_element((By.ID, "message"), "translated 1 picture"))
        assert "astronaut.png: 1 face(s) cropped and translated" in browser.find_element(
            By.ID, "message").text
        translation = fetch_image(out.get_attribute("src"))
        seen = fetch_image(browser.find_element(By.CSS_SELECTOR, "#input img")
                           .get_attribute("src"))
        assert translation.shape == seen.shape == (SIZE, SIZE, 3)
        assert np.abs(translation.astype(int) - seen).mean() > 10
        assert browser.find_elements(By.CSS_SELECTOR, "#heatmap img")
        assert browser.find_elements(By.CSS_SELECTOR, "#download [aria-label='astronaut_A2B.png']")
        shot = tmp_path / "app.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        if os.environ.get("PPUGATIT_SCREENSHOT"):
            shutil.copyfile(shot, os.environ["PPUGATIT_SCREENSHOT"])
    finally:
        server.stop()


@pytest.mark.slow
def test_upload_a_clip_and_play_its_translation(tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    from helpers.clips import face_frames, read_clip, write_clip

    server = AppServer(tmp_path, tiny_weights(tmp_path))
    try:
        clip = tmp_path / "selfie.mp4"
        write_clip(str(clip), face_frames(12))
        browser.get(server.url)
        wait = WebDriverWait(browser, 90)
        tab = wait.until(EC.element_to_be_clickable(
            (By.XPATH, "//button[@role='tab' and contains(., 'Video')]")))
        tab.click()
        assert "up to 20 s and 1920 px" in browser.find_element(By.ID, "video_tab").text
        upload = wait.until(EC.presence_of_element_located(
            (By.CSS_SELECTOR, "#clip input[type=file]")))
        upload.send_keys(str(clip))
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#clip video")))
        wait.until(EC.element_to_be_clickable((By.ID, "run_video"))).click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "video_message"), "12 frames"))
        assert "sound copied" in browser.find_element(By.ID, "video_message").text
        player = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR,
                                                            "#video_out video")))
        wait.until(lambda d: browser.execute_script(
            "return arguments[0].readyState >= 1 && arguments[0].duration > 0", player))
        played = tmp_path / "played.mp4"
        with urllib.request.urlopen(player.get_attribute("src"), timeout=30) as r:
            played.write_bytes(r.read())
        frames, rate, sound = read_clip(str(played))
        assert len(frames) == 12 and rate == 24 and sound is not None
        assert browser.execute_script("return arguments[0].duration", player) > 0.4
    finally:
        server.stop()
