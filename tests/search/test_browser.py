"""The page as a person uses it: a real headless Chromium types a question and reads the results.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them). Where they are missing
the test is skipped, unless ``LANGMIX_REQUIRE_BROWSER=1`` (set by CI), where it fails instead.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000", "--lang=en-US"]


@pytest.fixture
def browser(tmp_path: Path):
    if not (Path(CHROMIUM).is_file() and Path(DRIVER).is_file()):
        if os.environ.get("LANGMIX_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} or {DRIVER} missing: apt-get install chromium chromium-driver")
        pytest.skip("chromium / chromium-driver not installed")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait(driver, condition, timeout: float = 120):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _column(driver, name: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'section.column[data-index="{name}"]')


def _ask(driver, question: str, k: str = "10") -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, "k")).select_by_visible_text(k)
    box = driver.find_element(By.ID, "query")
    box.clear()
    box.send_keys(question, Keys.ENTER)


def _read(column) -> tuple[list[tuple[str, str, str]], list[tuple[str, int]], str]:
    """(hits as (badge, data-lang, id), shares bar as (lang, count), shares line) of one column."""
    from selenium.webdriver.common.by import By

    hits = [(h.find_element(By.CSS_SELECTOR, ".badge").text, h.get_attribute("data-lang"),
             h.find_element(By.CSS_SELECTOR, ".hit-id").text) for h in column.find_elements(By.CSS_SELECTOR, "li.hit")]
    bar = [(s.get_attribute("data-lang"), int(s.get_attribute("data-count")))
           for s in column.find_elements(By.CSS_SELECTOR, ".shares .share")]
    return hits, bar, column.find_element(By.CSS_SELECTOR, ".shares-line").text


def test_search_page_in_a_real_browser(browser, server: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    _wait(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    _ask(browser, "Wo wurde zuerst Kaffee getrunken?")
    _wait(browser, lambda d: "Kaffee" in d.find_element(By.ID, "message").text)
    columns = {name: _read(_column(browser, name)) for name in ("multilingual-e5-small", "random-init")}
    for hits, bar, line in columns.values():
        assert len(hits) == 10
        assert all(badge == lang and badge in {"en", "de", "es", "zh", "ar", "hi"} for badge, lang, _ in hits)
        counts = Counter(lang for _, lang, _ in hits)
        assert dict(bar) == counts and sum(n for _, n in bar) == 10  # the bar is the badges, counted
        assert line == "top-10: " + ", ".join(f"{lang} {n}" for lang, n in bar)
    e5_hits = columns["multilingual-e5-small"][0]
    assert {pid for _, _, pid in e5_hits[:6]} == {f"coffee-{lang}" for lang in ("en", "de", "es", "zh", "ar", "hi")}
    assert "?q=Wo+wurde" in browser.current_url or "?q=Wo%20wurde" in browser.current_url
    shot = tmp_path / "serve.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")


def test_collection_markup_is_shown_not_run(browser, server: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server + "/?q=Bananas+are+yellow&k=5")
    _wait(browser, lambda d: len(_column(d, "multilingual-e5-small").find_elements(By.CSS_SELECTOR, "li.hit")) == 5)
    first = _column(browser, "multilingual-e5-small").find_element(By.CSS_SELECTOR, "li.hit")
    assert first.find_element(By.CSS_SELECTOR, ".hit-id").text == "markup-en"
    assert "<script>window.__xss = 1</script>" in first.find_element(By.CSS_SELECTOR, ".text").text
    assert first.find_element(By.CSS_SELECTOR, ".title").text == "<b>Markup</b> test"
    assert first.find_elements(By.CSS_SELECTOR, "script, img, b") == []
    assert browser.execute_script("return window.__xss === undefined")


def test_bad_query_shows_the_message_and_the_page_goes_on(browser, server: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    _wait(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    _ask(browser, "   ")
    message = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#message.error"))
    assert message.text == "the query is empty; type a question"
    _ask(browser, "Everest", "5")
    _wait(browser, lambda d: len(_column(d, "random-init").find_elements(By.CSS_SELECTOR, "li.hit")) == 5)
    assert not browser.find_elements(By.CSS_SELECTOR, "#message.error")


@pytest.mark.parametrize("k,chosen,hits", [("7", "7", 7), ("500", "100", 31), ("ten", "10", 10)])
def test_a_link_with_a_k_the_menu_lacks(browser, server: str, k: str, chosen: str, hits: int) -> None:
    """?k=7 gets a menu entry of its own, ?k=500 the largest k (the collection has 31), ?k=ten the default."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{server}/?q=Everest&k={k}")
    _wait(browser, lambda d: len(_column(d, "random-init").find_elements(By.CSS_SELECTOR, "li.hit")) == hits)
    assert Select(browser.find_element(By.ID, "k")).first_selected_option.text == chosen
    assert not browser.find_elements(By.CSS_SELECTOR, "#message.error")
    assert browser.find_element(By.ID, "message").text == f"top {chosen} for “Everest”"
