"""The page end to end in headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by
Selenium): the runs table, the latent plane of a VAE, an InfoGAN slider, the caption box and a bad
upload. Screenshots go to $GENZOO_SCREENSHOTS or a temporary directory (the path is printed).
Skipped, with the reason, only where Selenium or the browser is missing."""

from __future__ import annotations

import shutil

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _find(*names: str) -> str | None:
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return None


CHROME = _find("chromium", "chromium-browser", "google-chrome")
DRIVER = _find("chromedriver")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROME is None or DRIVER is None,
                                 reason="no headless browser: install Debian's chromium and chromium-driver")]


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROME
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--disable-extensions"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(screenshot_dir):
    print(f"\nscreenshots: {screenshot_dir}")
    return screenshot_dir


def wait(driver, cond, timeout=20):
    return WebDriverWait(driver, timeout).until(lambda d: cond(d))


def image_count(driver, css: str) -> int:
    return int(driver.execute_script(f"return Number(document.querySelector('{css}').dataset.count || 0)"))


def pixels(driver, css: str) -> str:
    """The shown image's pixels as a data URL (drawn on a canvas at natural size)."""
    return driver.execute_script(
        "const img = document.querySelector(arguments[0]);"
        "const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;"
        "c.getContext('2d').drawImage(img, 0, 0); return c.toDataURL();", css)


def updated(driver, css: str, before: int) -> int:
    return wait(driver, lambda d: image_count(d, css) > before and image_count(d, css))


def test_runs_table(browser, base_url, shots):
    browser.get(base_url + "/")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")
    assert len(rows) == 13
    flt = browser.find_element(By.ID, "filter")
    flt.send_keys("vae")
    ids = [r.get_attribute("data-run") for r in browser.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")]
    assert sorted(ids) == ["broken/noweights", "group/vae5", "vae2"]
    for box in browser.find_elements(By.CSS_SELECTOR, "#runs-table tbody input[type=checkbox]")[1:]:
        box.click()
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#overlay svg path")) == 2)
    browser.find_element(By.CSS_SELECTOR, "th[data-sort=best_valid_loss]").click()
    browser.save_screenshot(str(shots / "runs.png"))


def test_vae_latent_plane_and_bad_upload(browser, base_url, shots, tmp_path):
    browser.get(base_url + "/#/run/vae2")
    plane = wait(browser, lambda d: d.find_elements(By.ID, "plane"))[0]
    wait(browser, lambda d: "test codes" in d.find_element(By.CSS_SELECTOR, "[data-view='latent plane']").text)
    n0 = image_count(browser, "#decoded")
    ActionChains(browser).move_to_element_with_offset(plane, -110, -110).click().perform()
    n1 = updated(browser, "#decoded", n0)
    first = pixels(browser, "#decoded")
    ActionChains(browser).move_to_element_with_offset(plane, 110, 110).click().perform()
    updated(browser, "#decoded", n1)
    wait(browser, lambda d: pixels(d, "#decoded") != first, timeout=10)
    assert browser.find_element(By.ID, "latent-error").text == ""
    browser.save_screenshot(str(shots / "vae-latent-plane.png"))

    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    browser.find_element(By.ID, "recon-file").send_keys(str(bad))
    err = wait(browser, lambda d: "not an image" in d.find_element(By.ID, "recon-upload-error").text
               and d.find_element(By.ID, "recon-upload-error"))
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", err)
    browser.save_screenshot(str(shots / "bad-upload.png"))


def test_sliders_along_principal_directions(browser, base_url):
    from selenium.webdriver.support.ui import Select

    browser.get(base_url + "/#/run/group/vae5")
    plane = "[data-view='latent plane']"
    wait(browser, lambda d: "principal directions" in d.find_element(By.CSS_SELECTOR, plane).text)
    wait(browser, lambda d: d.find_elements(By.ID, "z5"))
    Select(browser.find_element(By.ID, "slider-axes")).select_by_value("pca")
    slider = wait(browser, lambda d: d.find_elements(By.ID, "pc1"))[0]
    n0 = wait(browser, lambda d: image_count(d, "#slider-decoded"))
    before = pixels(browser, "#slider-decoded")
    slider.send_keys(Keys.END)
    updated(browser, "#slider-decoded", n0)
    wait(browser, lambda d: pixels(d, "#slider-decoded") != before, timeout=10)


def test_infogan_slider(browser, base_url, shots):
    browser.get(base_url + "/#/run/infogan")
    slider = wait(browser, lambda d: d.find_elements(By.ID, "infogan-c1"))[0]
    n0 = wait(browser, lambda d: image_count(d, "#infogan-img"))
    before = pixels(browser, "#infogan-img")
    slider.send_keys(Keys.END)  # c1 = 2
    updated(browser, "#infogan-img", n0)
    wait(browser, lambda d: pixels(d, "#infogan-img") != before, timeout=10)
    browser.save_screenshot(str(shots / "infogan.png"))


def test_caption_box(browser, base_url, shots):
    browser.get(base_url + "/#/run/text2image")
    box = wait(browser, lambda d: d.find_elements(By.ID, "caption"))[0]
    n0 = wait(browser, lambda d: image_count(d, "#caption-img"))
    box.clear()
    box.send_keys("a thin slanted one")
    updated(browser, "#caption-img", n0)
    assert browser.find_element(By.ID, "caption-error").text == ""
    box.send_keys(" purple")
    wait(browser, lambda d: "unknown word(s) 'purple'" in d.find_element(By.ID, "caption-error").text)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
    browser.save_screenshot(str(shots / "caption.png"))


def test_a_broken_run_shows_its_error(browser, base_url):
    browser.get(base_url + "/#/run/broken/noweights")
    err = wait(browser, lambda d: d.find_elements(By.ID, "model-error"))[0]
    assert "model.safetensors: no such file" in err.text


def test_autoregressive_sample_streams_in(browser, base_url, shots):
    browser.get(base_url + "/#/run/pixelcnn")
    wait(browser, lambda d: d.find_elements(By.ID, "stream-go"))[0].click()
    wait(browser, lambda d: d.find_element(By.ID, "stream-status").text.startswith("done"))
    total = wait(browser, lambda d: d.find_element(By.ID, "logprob-total").text)
    assert "nats (exact)" in total
    browser.save_screenshot(str(shots / "pixelcnn-stream.png"))
