"""The play page in a real browser: Debian's headless Chromium, driven by Selenium through chromedriver.

Nothing is downloaded: Selenium is given the system's chromedriver and
Chromium (installed by scripts/setup_venv.sh) and runs offline. The test
plays with the keyboard and checks what the page draws: the simulated frame
follows the action, the divergence is shown and a branch sets it back to 0.
Set ``RECURRENT_SIM_SCREENSHOT=PATH`` to keep a screenshot of the page.
"""
import asyncio
import os
import shutil
from urllib.parse import urlsplit

import numpy as np
import pytest

from recurrent_sim.play.protocol import decode_frame

from tests.helpers import BLOCKWORLD
from tests.play_tests.server_process import PlayProcess
from tests.play_tests.test_server import BAD_MESSAGES, get, receive

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1000,760")

pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
    reason="needs Debian's chromium and chromium-driver (scripts/setup_venv.sh installs them as root)",
)


@pytest.fixture(scope="module")
def play_server(tmp_path_factory, untrained_checkpoint):
    """What ``recurrent-sim play --pretrained blockworld`` serves when the package ships that
    simulator, else the play server on an untrained BlockWorld simulator."""
    from recurrent_sim.pretrained import pretrained_names

    if "blockworld" in pretrained_names():
        model = ["--pretrained", "blockworld"]
    else:
        model = ["--loadtosim", untrained_checkpoint, "--env", BLOCKWORLD]
    server = PlayProcess(tmp_path_factory.mktemp("play"), *model, "--warmup", 4)
    yield server
    server.stop()


@pytest.fixture
def browser(tmp_path, monkeypatch):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not fetch anything
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + (f"--user-data-dir={tmp_path / 'chromium'}",):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_script_timeout(20)
    yield driver
    driver.quit()
    shutil.rmtree(tmp_path / "chromium", ignore_errors=True)


def wait(driver, script, timeout=20):
    """Wait until ``script`` (a JavaScript expression) is truthy; returns its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: d.execute_script(f"return {script}"))


SIM_PIXELS = """
const s = window.playState.hello.scale, w = window.playState.hello.width, h = window.playState.hello.height;
const data = document.getElementById('sim').getContext('2d').getImageData(0, 0, w * s, h * s).data;
const pixels = [];
for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) pixels.push(data[4 * ((y * s + (s >> 1)) * w * s + x * s + (s >> 1))]);
return pixels;
"""


def frame_shape(driver):
    return tuple(driver.execute_script("return [window.playState.hello.height, window.playState.hello.width]"))


def sim_on_screen(driver):
    """The simulated frame as the canvas shows it, one value per game pixel, (H, W) uint8."""
    return np.array(driver.execute_script(SIM_PIXELS), dtype=np.uint8).reshape(frame_shape(driver))


def frame_sent(driver, which):
    """The ``sim`` or ``real`` frame of the last message, (H, W) uint8."""
    return decode_frame(driver.execute_script(f"return window.playState.frame.{which}"), frame_shape(driver))


def curve_signature(driver):
    return driver.execute_script("return document.getElementById('curve').toDataURL()")


def press(driver, key, expected_step):
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(key).perform()
    wait(driver, f"window.playState.frame.step === {expected_step}")
    return sim_on_screen(driver)


def divergence_shown(driver) -> float:
    return float(driver.find_element("id", "divergence").text)


def branch_at(driver, step):
    """Drag the history slider to ``step`` and press the branch button, as a person would."""
    driver.execute_script("const h = document.getElementById('history'); h.value = arguments[0];"
                          "h.dispatchEvent(new Event('input'));", step)
    driver.find_element("id", "branch").click()
    wait(driver, f"window.playState.frame.step === {step} && window.playState.frame.branch_step === {step}")


async def send_bad_messages(url):
    import aiohttp

    async with aiohttp.ClientSession() as client, client.ws_connect(url + "ws") as ws:
        await receive(ws, "frame")
        for kind, message, words in BAD_MESSAGES:
            await (ws.send_str(message) if kind == "text" else ws.send_bytes(message))
            assert words in (await receive(ws, "error"))["message"]


def test_play_in_the_browser(play_server, browser):
    from selenium.webdriver.common.keys import Keys

    browser.get(play_server.url)
    wait(browser, "window.playState.frame !== null")
    first = browser.execute_script("return window.playState.frame.episode")
    browser.find_element("tag name", "body").send_keys("n")  # a new episode, paused: one step per key press
    start = wait(browser, f"window.playState.paused && window.playState.frame.episode > {first} "
                          "&& window.playState.frame.step")
    scale = browser.execute_script("return window.playState.hello.scale")
    width = frame_shape(browser)[1]
    assert browser.execute_script("return document.getElementById('sim').width") == width * scale > width  # scaled up
    assert np.array_equal(sim_on_screen(browser), frame_sent(browser, "sim"))  # the canvas shows what was sent

    up = press(browser, Keys.ARROW_UP, start + 1)
    curve_after_one = curve_signature(browser)
    press(browser, Keys.ARROW_RIGHT, start + 2)
    assert divergence_shown(browser) > 0
    assert curve_signature(browser) != curve_after_one  # the curve grows with each step

    branch_at(browser, start)
    assert divergence_shown(browser) == 0.0  # back on the real frame
    assert np.array_equal(sim_on_screen(browser), frame_sent(browser, "real"))
    down = press(browser, Keys.ARROW_DOWN, start + 1)
    assert not np.array_equal(up, down)  # same moment, another action: another frame
    assert divergence_shown(browser) > 0
    drift = browser.find_element("id", "drift").text
    if browser.execute_script("return window.playState.hello.has_drift"):
        assert float(drift) >= 0  # the simulator's own error estimate
    else:
        assert drift == "no drift head"

    browser.find_element("tag name", "body").send_keys("a")  # the agent plays
    wait(browser, "window.playState.agent")
    browser.find_element("id", "step-once").click()
    wait(browser, f"window.playState.frame.step === {start + 2}")

    asyncio.run(send_bad_messages(play_server.url))  # takes the game over from the page, then goes
    assert play_server.running
    browser.refresh()
    wait(browser, "window.playState.frame !== null && window.playState.frame.step >= " + str(start + 2))
    screenshot = os.environ.get("RECURRENT_SIM_SCREENSHOT")
    if screenshot:
        browser.save_screenshot(screenshot)
    assert not browser.execute_script("return window.playState.errors.length")


def test_the_page_explains_the_game_and_keeps_the_keys_after_the_slider(play_server, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.get(play_server.url)
    wait(browser, "window.playState.frame !== null")
    legend = browser.find_element("id", "legend").text
    assert "You are the large gray square" in legend and "-1 and the episode ends" in legend
    keys = browser.find_element("id", "help").text
    assert "arrow keys move" in keys and "Space" not in keys  # BlockWorld has no FIRE
    icons = browser.execute_script("return [...document.querySelectorAll('link[rel=icon]')].map(l => l.href)")
    assert icons and all(get(play_server.url, urlsplit(icon).path)[0] == 200 for icon in icons)

    episode = browser.execute_script("return window.playState.frame.episode")
    browser.find_element("tag name", "body").send_keys("n")  # a new episode, paused
    start = wait(browser, f"window.playState.paused && window.playState.frame.episode > {episode} "
                          "&& window.playState.frame.step")
    slider = browser.find_element("id", "history")  # steps 0 to start: the warm-up
    ActionChains(browser).click_and_hold(slider).move_by_offset(-slider.size["width"] // 2, 0).release().perform()
    target = int(slider.get_attribute("value"))
    assert target < start
    ActionChains(browser).send_keys("b").perform()  # B, with the mouse just off the slider
    wait(browser, f"window.playState.frame.step === {target} && window.playState.frame.branch_step === {target}")
    press(browser, Keys.ARROW_UP, target + 1)  # and the arrows play again
    score = float(browser.find_element("id", "real-score").text)
    assert score == browser.execute_script("return window.playState.frame.real_score")

    ActionChains(browser).send_keys("p").perform()  # play on until the real episode ends
    wait(browser, "window.playState.frame.over", timeout=60)
    pause = browser.find_element("id", "pause")
    assert not pause.is_enabled() and pause.text == "Episode over"
    frames = browser.execute_script("return window.playState.frames")
    ActionChains(browser).send_keys("p").perform()  # no Resume on an ended episode: nothing is sent
    browser.find_element("tag name", "body").send_keys("n")
    wait(browser, f"window.playState.frames > {frames} && !window.playState.frame.over")
    assert not browser.execute_script("return window.playState.errors.length")
