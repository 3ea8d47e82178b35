#!/usr/bin/env python3
"""The README tour through the web console, as a person would do it, in headless Chromium.

An operator creates a dashboard through the API (the console is for a dashboard's people);
then, in the browser only: the admin logs in with the keyboard, adds a developer and a
viewer, creates keys on all four channels (the Email secret shown once, then gone), views
the WhatsApp key with the password, sees the RCS key cannot be regenerated, revokes the
Email key — which verify then refuses — and finds every action in the audit trail. Along the
way: the page's security headers, no secret or token in storage, cookies or URLs, the
step-up password cleared, refusals shown in the API's own words, each role's screens,
axe-core on every screen, 375 px wide, and the load event under a second.
Exit status 1 with the failed check's reason."""
import argparse
import json
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

PASSWORD = "correct horse battery staple"
DEVELOPER_PASSWORD = "a developer's password"
VIEWER_PASSWORD = "a viewer's password"


class Failed(Exception):
    pass


def check(condition, why):
    if not condition:
        raise Failed(why)


def step(text):
    print(f"- {text}", flush=True)


class Api:
    def __init__(self, url):
        self.url = url

    def call(self, method, path, token=None, body=None):
        request = urllib.request.Request(self.url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read() or b"null")

    def raw(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return response.status, response.headers, response.read()


class Browser:
    def __init__(self, args, width=1280, height=900):
        options = Options()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", f"--user-data-dir={args.profile}-{width}",
                     "--disable-extensions", "--no-first-run"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # to see the requests' headers
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        # What a person grants when the copy button asks: the test reads the clipboard back.
        self.driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": args.url,
                                    "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
        # A window is never narrower than Chromium's minimum (about 500 px): a phone's width is
        # emulated, as the browser's device mode does.
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500})
        self.args = args
        # An element found a moment ago may have been drawn anew since (a screen renders after
        # its data arrives): a wait then simply looks again.
        self.wait = WebDriverWait(self.driver, 10, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException))
        with open(args.axe) as f:
            self.axe = f.read()

    def quit(self):
        self.driver.quit()

    def js(self, script, *arguments):
        return self.driver.execute_script(script, *arguments)

    def until(self, condition, why):
        try:
            return self.wait.until(lambda _: condition())
        except Exception as error:
            raise Failed(f"{why} (waited 10 s: {type(error).__name__})") from None

    def find(self, css, text=None, within=None):
        """The visible element matching `css` (and holding `text`), waiting for it to appear."""
        def found():
            for element in (within or self.driver).find_elements(By.CSS_SELECTOR, css):
                if element.is_displayed() and (text is None or text in element.text):
                    return element
            return None
        return self.until(found, f"no visible {css}" + (f" with {text!r}" if text else ""))

    def field(self, label, within=None):
        """The input a visible label names."""
        label_element = self.find("label", label, within)
        return self.driver.find_element(By.ID, label_element.get_attribute("for"))

    def main_text(self):
        return self.driver.find_element(By.ID, "main").text

    def log_in(self, dashboard, email, password, who):
        """Fills the login form and waits for the overview."""
        self.field("Dashboard ID").send_keys(dashboard)
        self.field("Email").send_keys(email)
        self.field("Password").send_keys(password, Keys.ENTER)
        self.until(lambda: self.driver.find_element(By.CSS_SELECTOR, "main h1").text == "Overview", f"{who} did not get in")

    def open_screen(self, title):
        def opened():
            try:
                if self.driver.find_element(By.CSS_SELECTOR, "main h1").text != title:
                    self.find("nav a", title).click()
                return self.driver.find_element(By.CSS_SELECTOR, "main h1").text == title
            except StaleElementReferenceException:  # the screen was being drawn: look again
                return False
        self.until(opened, f"the {title} screen did not open")

    def message(self):
        """The screen's latest message: (kind, text)."""
        element = self.find(".messages .message")
        return ("error" if "error" in element.get_attribute("class") else "ok"), element.text

    def wait_message(self, contains):
        self.until(lambda: any(contains in e.text for e in self.driver.find_elements(By.CSS_SELECTOR, ".message")),
                   f"no message saying {contains!r}; the page says: {self.main_text()[:400]!r}")

    def row(self, caption, text):
        """The row of the table `caption` that holds `text`."""
        def found():
            for table in self.driver.find_elements(By.CSS_SELECTOR, "table"):
                if table.find_element(By.TAG_NAME, "caption").text != caption:
                    continue
                for row in table.find_elements(By.CSS_SELECTOR, "tbody tr"):
                    if text in row.text:
                        return row
            return None
        try:
            return self.until(found, "")
        except Failed:
            raise Failed(f"no row with {text!r} in the table {caption!r}; the screen says: {self.main_text()[-1500:]!r}") from None

    def secret_once(self):
        """The secret the one-time panel shows; then 'Done', and it must be gone from the page."""
        panel = self.find(".secret-once")
        secret = panel.find_element(By.CSS_SELECTOR, "code.secret").text
        check(panel.find_element(By.CSS_SELECTOR, "button[data-action=copy]").is_displayed(), "the secret has no copy button")
        return secret, panel

    def dismiss(self, panel, secret):
        panel.find_element(By.CSS_SELECTOR, "button[data-action=done]").click()
        self.until(lambda: secret not in self.driver.page_source, "the secret is still in the page after Done")

    def no_secrets_kept(self, secrets):
        stored = self.js("return [localStorage.length, sessionStorage.length, document.cookie, location.href,"
                         " performance.getEntriesByType('resource').map(e => e.name)]")
        check(stored[0] == 0 and stored[1] == 0, f"the console uses browser storage: {stored[:2]}")
        check(stored[2] == "" and not self.driver.get_cookies(), "the console set a cookie")
        for url in [stored[3]] + stored[4]:
            check("klsess_" not in url and not any(s and s in url for s in secrets), f"a secret or token is in a URL: {url}")
            check("password" not in url.lower(), f"a password is in a URL: {url}")

    def accessible(self, name):
        """axe-core finds no serious or critical violation on the page as it is."""
        self.js(self.axe)
        violations = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then("
            "  r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            "       targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))),"
            "  e => done([{id: 'axe-error', impact: 'critical', help: String(e), targets: []}]));")
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        check(not bad, f"axe-core on {name}: {json.dumps(bad, indent=1)}")
        print(f"  axe-core on {name}: no serious or critical violation" +
              (f"; minor or moderate: {', '.join(v['id'] for v in violations)}" if violations else ""))

    def network(self):
        """The requests the page made since the last call: [(method, url, request headers,
        response headers)], in order, from Chromium's performance log."""
        requests, order = {}, []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                request = params["request"]
                requests[params["requestId"]] = [request["method"], request["url"], request["headers"], {}]
                order.append(params["requestId"])
            elif message["method"] == "Network.responseReceived" and params["requestId"] in requests:
                requests[params["requestId"]][3] = params["response"]["headers"]
        return [tuple(requests[i]) for i in order]

    def screenshot(self, name):
        """A screenshot for docs/console/. The screenshots are committed, so a secret on the
        screen is shown with its middle hidden first (it is a throwaway server's, but no
        secret goes into a file)."""
        shown = self.js("return [...document.querySelectorAll('code.secret')].map(c => {"
                        "  const t = c.textContent; c.textContent = t.slice(0, 8) + '…(hidden in this screenshot)…' + t.slice(-4);"
                        "  return t; })")
        self.driver.save_screenshot(f"{self.args.screenshots}/{name}.png")
        self.js("document.querySelectorAll('code.secret').forEach((c, i) => { c.textContent = arguments[0][i]; })", shown)


def tour(args):
    api = Api(args.url)

    step("security headers on /console/")
    status, headers, body = api.raw("/console/")
    check(status == 200 and b"<title>keyledger console</title>" in body, "/console/ is not the console")
    csp = headers["Content-Security-Policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"):
        check(directive in csp, f"the CSP lacks {directive}: {csp}")
    check("unsafe-inline" not in csp and "unsafe-eval" not in csp, f"the CSP allows inline code: {csp}")
    check(headers["X-Content-Type-Options"] == "nosniff", "no X-Content-Type-Options: nosniff")
    for name in ("console.js", "api.js", "dom.js", "screens.js", "console.css"):
        status, headers, _ = api.raw(f"/console/{name}")
        check(status == 200 and headers["Content-Security-Policy"] == csp, f"/console/{name} is not served with the CSP")
    check(b" style=" not in body and b"<script>" not in body and b" on" not in body.replace(b" one", b""),
          "index.html has inline script or style")

    status, _, dashboard = api.call("POST", "/v1/dashboards", args.operator_token,
                                    {"name": "Acme", "admin": {"email": "ada@example.com", "password": PASSWORD}})
    check(status == 201, f"the operator could not create a dashboard: {status}")
    dash = dashboard["id"]
    # The admin's own session through the API, only to learn the API's words for the
    # refusals the console must show as they are.
    _, _, session = api.call("POST", "/v1/sessions", None, {"dashboard_id": dash, "email": "ada@example.com", "password": PASSWORD})
    admin_token = session["token"]

    browser = Browser(args)
    secrets = []
    try:
        driver = browser.driver
        step("a fresh browser profile loads the console in under a second")
        driver.get(args.url + "/console/")
        browser.find("form.login")
        load_ms = browser.js("const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime;")
        check(0 < load_ms < 1000, f"the load event fired after {load_ms} ms")
        print(f"  load event after {load_ms:.0f} ms")
        browser.accessible("the login screen")
        browser.screenshot("login")

        step("a wrong password is refused in the API's own words")
        _, _, refusal = api.call("POST", "/v1/sessions", None, {"dashboard_id": dash, "email": "ada@example.com", "password": "wrong password"})
        browser.field("Dashboard ID").send_keys(dash)
        browser.field("Email").send_keys("ada@example.com")
        browser.field("Password").send_keys("wrong password", Keys.ENTER)
        browser.until(lambda: refusal["detail"] in browser.main_text(), f"the login refusal {refusal['detail']!r} is not shown")
        check(browser.field("Password").get_attribute("value") == "", "the password field kept the password")

        step("the admin logs in with the keyboard alone")
        browser.field("Dashboard ID").clear()
        browser.field("Dashboard ID").click()
        active = driver.switch_to.active_element
        active.send_keys(dash, Keys.TAB)
        driver.switch_to.active_element.send_keys(Keys.CONTROL, "a")
        driver.switch_to.active_element.send_keys("ada@example.com", Keys.TAB)
        driver.switch_to.active_element.send_keys(PASSWORD, Keys.ENTER)
        browser.until(lambda: driver.find_element(By.CSS_SELECTOR, "main h1").text == "Overview", "the admin did not get in")
        check("Acme" in browser.main_text(), "the overview does not show the dashboard")
        browser.accessible("the overview")
        browser.screenshot("overview")

        step("the admin adds a developer and a viewer")
        browser.open_screen("Users")
        for email, role, password in (("dev@example.com", "developer", DEVELOPER_PASSWORD), ("vic@example.com", "viewer", VIEWER_PASSWORD)):
            browser.field("Email").send_keys(email)
            Select(browser.field("Role")).select_by_value(role)
            browser.field("Initial password").send_keys(password, Keys.ENTER)
            browser.wait_message(f"{email} added as {role}")
            browser.row("Users", email)
        browser.accessible("Users")
        browser.screenshot("users")

        step("Email: a key with chosen permissions and an IP restriction, shown once")
        browser.open_screen("Email keys")
        browser.network()
        browser.field("Name").send_keys("billing")
        browser.find("label", "Chosen permissions").click()
        browser.find(".checks label", "mail.send").click()
        browser.field("IP restriction").send_keys("203.0.113.0/24")
        browser.find("button", "Generate").click()
        email_key, panel = browser.secret_once()
        check(email_key.startswith("kle_"), f"the Email secret looks wrong: {email_key!r}")
        panel.find_element(By.CSS_SELECTOR, "button[data-action=copy]").click()
        browser.until(lambda: "Copied." in panel.text, "the copy button did not copy")
        copied = driver.execute_async_script("navigator.clipboard.readText().then(arguments[0], e => arguments[0]('error: ' + e))")
        check(copied == email_key, f"the clipboard holds {copied!r}, not the key")
        browser.row("Email keys", "billing")
        browser.accessible("Email keys with a secret shown")
        browser.screenshot("email-secret-once")
        browser.dismiss(panel, email_key)
        secrets.append(email_key)
        row = browser.row("Email keys", "billing")
        check("mail.send" in row.text and "203.0.113.0/24" in row.text, f"the key's row is wrong: {row.text}")
        browser.screenshot("email")
        status, _, verdict = api.call("POST", "/v1/verify", args.service_token,
                                      {"key": email_key, "source_ip": "203.0.113.7", "permission": "mail.send"})
        check(verdict.get("valid") is True, f"the console's Email key does not verify: {verdict}")

        step("after its own command the console reads with Keyledger-Min-Position")
        requests = browser.network()
        posts = [r for r in requests if r[0] == "POST" and r[1].endswith("/email/keys")]
        check(len(posts) == 1, f"expected one POST of the Email key, saw {[(r[0], r[1]) for r in requests]}")
        position = {k.lower(): v for k, v in posts[0][3].items()}.get("keyledger-position", "")
        check(position, "the command's answer has no Keyledger-Position")
        reads = [r for r in requests[requests.index(posts[0]) + 1:] if r[0] == "GET"]
        check(reads, "no read after the command")
        for method, url, headers, _ in reads:
            sent = {k.lower(): v for k, v in headers.items()}.get("keyledger-min-position")
            check(sent == position, f"GET {url} sent Keyledger-Min-Position {sent!r}, not {position!r}")

        step("Email: the key's IP restriction changed in place, and verify follows it")
        row = browser.row("Email keys", "billing")
        browser.find("summary", "Change", row).click()
        ips = browser.field("IP restriction", row)
        ips.clear()
        ips.send_keys("203.0.113.0/24\n198.51.100.0/24")
        browser.find("button", "Save", row).click()
        browser.wait_message("Email key billing changed")
        check("198.51.100.0/24" in browser.row("Email keys", "billing").text, "the new IP restriction is not listed")
        _, _, verdict = api.call("POST", "/v1/verify", args.service_token,
                                 {"key": email_key, "source_ip": "198.51.100.7", "permission": "mail.send"})
        check(verdict.get("valid") is True, f"the widened IP restriction does not verify: {verdict}")

        step("WhatsApp: generated masked; shown after the password, which is then cleared")
        browser.open_screen("WhatsApp keys")
        browser.field("Name").send_keys("support", Keys.ENTER)
        browser.wait_message("WhatsApp key support generated")
        row = browser.row("WhatsApp keys", "support")
        check("klw_…" in row.text, f"the WhatsApp key is not masked: {row.text}")
        password_box = browser.field("Your password", row)
        password_box.send_keys(PASSWORD)
        browser.find("button", "View key", row).click()
        wa_key, panel = browser.secret_once()
        check(wa_key.startswith("klw_"), f"the WhatsApp secret looks wrong: {wa_key!r}")
        check(browser.field("Your password", browser.row("WhatsApp keys", "support")).get_attribute("value") == "",
              "the step-up password field was not cleared")
        browser.accessible("WhatsApp keys")
        browser.screenshot("whatsapp-revealed")
        browser.dismiss(panel, wa_key)
        secrets.append(wa_key)

        step("SMS: registering a number assigns its key")
        browser.open_screen("SMS numbers")
        browser.field("Phone number").send_keys("+1", Keys.ENTER)  # refused by the API
        _, _, refusal = api.call("POST", f"/v1/dashboards/{dash}/sms/numbers", admin_token, {"number": "+1"})
        browser.until(lambda: browser.message() == ("error", refusal["detail"]), f"the refusal {refusal['detail']!r} is not shown as the API's")
        browser.field("Phone number").clear()
        browser.field("Phone number").send_keys("+14155550100", Keys.ENTER)
        browser.wait_message("+14155550100 registered")
        row = browser.row("Registered numbers", "+14155550100")
        browser.find("button", "View key", row).click()
        sms_key, panel = browser.secret_once()
        check(sms_key.startswith("kls_"), f"the SMS secret looks wrong: {sms_key!r}")
        browser.accessible("SMS numbers")
        browser.screenshot("sms")
        browser.dismiss(panel, sms_key)
        secrets.append(sms_key)

        step("RCS: no regenerate button, and why; the key after the password; a bot")
        browser.open_screen("RCS key")
        text = browser.main_text()
        check("cannot generate a new" in text, "the RCS screen does not say why there is no regenerate button")
        buttons = [b.text for b in driver.find_elements(By.CSS_SELECTOR, "main button") if b.is_displayed()]
        check(not any(word in b.lower() for b in buttons for word in ("regenerate", "generate", "rotate", "revoke")),
              f"the RCS screen offers {buttons}")
        browser.field("Bot ID").send_keys("acme-bot", Keys.ENTER)
        browser.wait_message("Bot acme-bot added")
        _, _, refusal = api.call("POST", f"/v1/dashboards/{dash}/rcs/key/reveal", admin_token, {"password": "not my password"})
        browser.field("Your password").send_keys("not my password", Keys.ENTER)
        browser.until(lambda: browser.message() == ("error", refusal["detail"]), f"the refusal {refusal['detail']!r} is not shown as the API's")
        check(browser.field("Your password").get_attribute("value") == "", "the step-up password field was not cleared")
        browser.field("Your password").send_keys(PASSWORD, Keys.ENTER)
        rcs_key, panel = browser.secret_once()
        check(rcs_key.startswith("klr_"), f"the RCS secret looks wrong: {rcs_key!r}")
        browser.accessible("RCS key")
        browser.screenshot("rcs")
        browser.dismiss(panel, rcs_key)
        secrets.append(rcs_key)

        step("every key created in the console verifies")
        for key, extra in ((wa_key, {}), (sms_key, {"number": "+14155550100"}), (rcs_key, {"bot_id": "acme-bot"})):
            _, _, verdict = api.call("POST", "/v1/verify", args.service_token, {"key": key, "source_ip": "198.51.100.1", **extra})
            check(verdict.get("valid") is True, f"a key made in the console does not verify: {verdict}")

        step("rotating the Email key with a grace period: old and new secrets both verify meanwhile")
        browser.open_screen("Email keys")
        row = browser.row("Email keys", "billing")
        Select(browser.field("Grace period", row)).select_by_value("86400")
        browser.find("button", "Rotate", row).click()
        rotated_key, panel = browser.secret_once()
        check(rotated_key.startswith("kle_") and rotated_key != email_key, "rotation showed no new secret")
        browser.dismiss(panel, rotated_key)
        secrets.append(rotated_key)
        for key in (email_key, rotated_key):
            _, _, verdict = api.call("POST", "/v1/verify", args.service_token,
                                     {"key": key, "source_ip": "203.0.113.7", "permission": "mail.send"})
            check(verdict.get("valid") is True, f"during the grace period a secret does not verify: {verdict}")

        step("revoking the Email key: verify refuses it")
        browser.open_screen("Email keys")
        row = browser.row("Email keys", "billing")
        browser.find("button", "Revoke", row).click()
        driver.switch_to.alert.accept()
        browser.wait_message("Email key billing revoked")
        check("revoked" in browser.row("Email keys", "billing").text, "the revoked key is not shown as revoked")
        for key in (email_key, rotated_key):
            _, _, verdict = api.call("POST", "/v1/verify", args.service_token,
                                     {"key": key, "source_ip": "203.0.113.7", "permission": "mail.send"})
            check(verdict == {"valid": False, "reason": "revoked"}, f"verify does not refuse the revoked key: {verdict}")

        step("WhatsApp: at most three keys, then Generate is off")
        browser.open_screen("WhatsApp keys")
        for name in ("ops", "alerts"):
            browser.field("Name").send_keys(name, Keys.ENTER)
            browser.wait_message(f"WhatsApp key {name} generated")
        browser.until(lambda: "3 of 3 used" in browser.main_text(), "the slots are not shown as 3 of 3")
        check(not browser.find("button", "Generate").is_enabled(), "Generate is still on with three WhatsApp keys")

        step("the screens are reached with the keyboard: Shift+Tab back into the navigation, Enter")
        browser.open_screen("Overview")  # a screen that opens puts the focus on its heading
        check(driver.switch_to.active_element.text == "Overview", "the opened screen's heading does not have the focus")
        for _ in range(12):
            driver.switch_to.active_element.send_keys(Keys.SHIFT, Keys.TAB)
            if driver.switch_to.active_element.text == "Audit trail":
                break
        check(driver.switch_to.active_element.text == "Audit trail", "the navigation is not reached with Shift+Tab")
        driver.switch_to.active_element.send_keys(Keys.ENTER)

        step("every action is in the audit trail, and its filters work")
        browser.until(lambda: driver.find_element(By.CSS_SELECTOR, "main h1").text == "Audit trail",
                      "Enter on the navigation's link did not open the audit trail")
        browser.row("Audit events", "EmailKeyRevoked")  # newest first: the last action
        browser.field("Events per page").clear()
        browser.field("Events per page").send_keys("100", Keys.ENTER)
        for event_type in ("UserAdded", "EmailKeyGenerated", "EmailKeyRotated", "WhatsAppKeyGenerated", "WhatsAppKeyRevealed",
                           "SmsNumberRegistered", "SmsKeyViewed", "RcsBotRegistered", "RcsKeyRevealed", "EmailKeyRevoked"):
            browser.row("Audit events", event_type)
        browser.accessible("Audit trail")
        browser.screenshot("audit")
        browser.field("Event type").send_keys("EmailKeyRevoked")
        browser.field("Events per page").clear()
        browser.field("Events per page").send_keys("1", Keys.ENTER)
        browser.until(lambda: len(driver.find_elements(By.CSS_SELECTOR, "table tbody tr")) == 1
                      and "EmailKeyRevoked" in driver.find_element(By.CSS_SELECTOR, "table tbody").text,
                      "filtering by type did not leave only EmailKeyRevoked")
        browser.field("Event type").clear()
        browser.field("Event type").send_keys(Keys.ENTER)
        def first_sequence():
            rows = driver.find_elements(By.CSS_SELECTOR, "table tbody tr")
            return int(rows[0].find_element(By.TAG_NAME, "td").text) if len(rows) == 1 else None
        newest = browser.until(lambda: first_sequence() if "EmailKeyRevoked" not in driver.find_element(By.CSS_SELECTOR, "table tbody").text
                               else None, "no page of one event, newest first")
        browser.find("button", "Next page").click()
        browser.until(lambda: first_sequence() == newest - 1, "the next page is not the event before")

        step("compliance report and chain check")
        browser.open_screen("Compliance")
        browser.until(lambda: "WhatsApp slots: 3 of 3 used." in browser.main_text(), "the compliance report is not shown")
        browser.accessible("Compliance")
        browser.screenshot("compliance")
        browser.open_screen("Chain check")
        browser.find("button", "Check the chain").click()
        browser.wait_message("The chain is intact")
        browser.accessible("Chain check")
        browser.screenshot("chain")

        step("deregistering the number and removing the bot: verify refuses their keys")
        browser.open_screen("SMS numbers")
        browser.find("button", "Deregister", browser.row("Registered numbers", "+14155550100")).click()
        driver.switch_to.alert.accept()
        browser.wait_message("+14155550100 deregistered")
        _, _, verdict = api.call("POST", "/v1/verify", args.service_token,
                                 {"key": sms_key, "source_ip": "198.51.100.1", "number": "+14155550100"})
        check(verdict.get("valid") is False, f"verify still takes the deregistered number's key: {verdict}")
        browser.open_screen("RCS key")
        browser.find("button", "Remove", browser.row("Bots", "acme-bot")).click()
        driver.switch_to.alert.accept()
        browser.wait_message("Bot acme-bot removed")
        _, _, verdict = api.call("POST", "/v1/verify", args.service_token,
                                 {"key": rcs_key, "source_ip": "198.51.100.1", "bot_id": "acme-bot"})
        check(verdict == {"valid": False, "reason": "unknown_bot"}, f"verify still takes the removed bot: {verdict}")

        step("nothing secret in storage, cookies or URLs")
        browser.no_secrets_kept(secrets)

        step("the viewer sees listings, the trail and compliance, and no button that would be refused")
        browser.find("#logout").click()
        browser.log_in(dash, "vic@example.com", VIEWER_PASSWORD, "the viewer")
        screens = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "nav a")]
        check("Users" not in screens and "Chain check" not in screens and "Compliance" in screens, f"the viewer's screens: {screens}")
        browser.open_screen("Email keys")
        browser.row("Email keys", "billing")
        check(not driver.find_elements(By.XPATH, "//button[normalize-space()='Generate']"), "the viewer is offered Generate")
        browser.open_screen("WhatsApp keys")
        check("Only a dashboard admin" in browser.main_text(), "the viewer is not told who manages WhatsApp keys")

        step("the developer manages Email keys but not WhatsApp keys")
        browser.find("#logout").click()
        browser.log_in(dash, "dev@example.com", DEVELOPER_PASSWORD, "the developer")
        browser.open_screen("Email keys")
        browser.find("button", "Generate")
        browser.open_screen("WhatsApp keys")
        check(not driver.find_elements(By.XPATH, "//button[normalize-space()='View key']"), "the developer is offered View key")
        browser.no_secrets_kept(secrets)
    finally:
        browser.quit()

    step("375 px wide: every screen fits, nothing scrolls sideways")
    phone = Browser(args, 375, 812)
    try:
        driver = phone.driver
        driver.get(args.url + "/console/")
        phone.log_in(dash, "ada@example.com", PASSWORD, "the admin at 375 px")
        for title in ("Email keys", "WhatsApp keys", "SMS numbers", "RCS key", "Audit trail"):
            phone.open_screen(title)
            phone.find("main table, main .notice")
            width = phone.js("return [window.innerWidth, document.documentElement.scrollWidth]")
            check(width == [375, 375], f"{title} is {width[1]} px wide in a window {width[0]} px wide")
        phone.open_screen("Email keys")
        phone.screenshot("email-375px")
        phone.accessible("Email keys at 375 px")
    finally:
        phone.quit()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--operator-token", required=True)
    parser.add_argument("--service-token", required=True)
    parser.add_argument("--axe", required=True)
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--profile", required=True)
    args = parser.parse_args()
    started = time.monotonic()
    try:
        tour(args)
    except Failed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    print(f"the console tour passed in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
