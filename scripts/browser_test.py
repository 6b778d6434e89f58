#!/usr/bin/python3
"""Drives the landmark web page in headless Chromium (Debian's chromium + chromium-driver, python3-selenium).

Usage: browser_test.py BASE_URL PHOTO SCREENSHOT_DIR

Loads the page, uploads PHOTO through the file picker, waits for the results grid, opens the second
result's match picture, and saves screenshots (desktop and phone width) into SCREENSHOT_DIR. Prints one
JSON line with what the page showed; exits non-zero, saying why, when the page did not work.
"""
import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def browser(width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)
    service = ChromeService(executable_path="/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def run(base, photo, folder, width, height, name):
    driver = browser(width, height)
    try:
        driver.get(base + "/")
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: "images" in d.find_element(By.ID, "status").text)
        picker = driver.find_element(By.ID, "file")
        driver.execute_script("arguments[0].hidden = false;", picker)
        picker.send_keys(os.path.abspath(photo))
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#results li.result")) > 0
                   or d.find_element(By.ID, "message").is_displayed())
        message = driver.find_element(By.ID, "message")
        if message.is_displayed():
            raise RuntimeError("the page shows an error: " + message.text)
        # Every thumbnail of the first row has loaded.
        wait.until(lambda d: d.execute_script(
            "return [...document.querySelectorAll('#results li.result img')].slice(0, 4)"
            ".every(i => i.complete && i.naturalWidth > 0)"))
        results = [item.get_attribute("title") for item in driver.find_elements(By.CSS_SELECTOR, "#results li.result")]
        scores = [item.text for item in driver.find_elements(By.CSS_SELECTOR, "#results li.result .score")]
        landmark = driver.find_element(By.ID, "landmark").text
        confidence = driver.find_element(By.ID, "confidence").text
        driver.save_screenshot(os.path.join(folder, name + "-results.png"))
        # The second result when there is one: the first is often the query itself, already indexed.
        shown = driver.find_elements(By.CSS_SELECTOR, "#results li.result")
        shown[min(1, len(shown) - 1)].click()
        wait.until(lambda d: (d.find_element(By.ID, "match-picture").get_attribute("src") or "").startswith("data:image/jpeg")
                   or d.find_element(By.ID, "match-summary").text.startswith("Cannot"))
        summary = driver.find_element(By.ID, "match-summary").text
        if summary.startswith("Cannot"):
            raise RuntimeError("the match picture failed: " + summary)
        time.sleep(0.3)
        driver.save_screenshot(os.path.join(folder, name + "-match.png"))
        return {"results": results, "scores": scores, "landmark": landmark, "confidence": confidence, "match": summary}
    finally:
        driver.quit()


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 64
    base, photo, folder = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    os.makedirs(folder, exist_ok=True)
    try:
        desktop = run(base, photo, folder, 1280, 900, "desktop")
        phone = run(base, photo, folder, 390, 844, "phone")
    except Exception as error:  # Selenium's errors carry the browser's reason; pass it on.
        print(f"browser test failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if phone["results"] != desktop["results"]:
        print("browser test failed: the phone-width page shows other results", file=sys.stderr)
        return 1
    print(json.dumps(desktop))
    return 0


if __name__ == "__main__":
    sys.exit(main())
