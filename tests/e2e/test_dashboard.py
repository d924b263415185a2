"""The operator dashboard (DESIGN 6) in a real browser: Debian's headless
Chromium driven by chromium-driver through python3-selenium, against a
running daemon and the fake fleet. It signs in (a wrong token is refused and
says so), sees a job progress to succeeded without reloading, cancels a
scheduled job after confirming (and backing out first changes nothing),
shows a tenant named <img src=x onerror=alert(1)> as text with no script run,
and shows the API's error when an action is refused. Screenshots of the
overview (1280 px and phone width) and of a job page are saved under
$TENANTDEL_TEST_OUTPUT (default build/test-output/test_dashboard). The
browser's console must stay free of errors.

The page files themselves are also checked without a browser: nothing
inline, so that "Content-Security-Policy: default-src 'self'" holds.

Without chromium, chromium-driver or python3-selenium the browser tests are
skipped with the reason, except under CI=true, where they fail."""
import html.parser
import http.client
import json
import os
import shutil
import time
import unittest

import harness
from apicase import write_api_config
from fleet import SERVICES, Fleet

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:  # Debian: python3-selenium
    webdriver = None

API_TOKEN = "api-token-dashboard-51c0e2"
XSS = "<img src=x onerror=alert(1)>"
UI_DIR = os.path.join(harness.SRCDIR, "ui")
OUT = os.environ.get("TENANTDEL_TEST_OUTPUT") or os.path.join(
    harness.SRCDIR, "build", "test-output", "test_dashboard")
CSP = "default-src 'self'; frame-ancestors 'none'"


def need(what, ok):
    """Skips (fails under CI=true) when a requirement is missing."""
    if ok:
        return
    if os.environ.get("CI") == "true":
        raise AssertionError("%s: CI must not skip the dashboard tests" % what)
    raise unittest.SkipTest(what)


class InlineFinder(html.parser.HTMLParser):
    """Collects what a strict CSP would block: inline scripts and styles,
    event-handler attributes, javascript: URLs, external resources."""

    def __init__(self):
        super().__init__()
        self.problems = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            if not a.get("src"):
                self.problems.append("inline <script>")
            self._in_script = True
        for k, v in attrs:
            if k == "style":
                self.problems.append("style attribute on <%s>" % tag)
            if k.startswith("on"):
                self.problems.append("%s attribute on <%s>" % (k, tag))
            if k in ("src", "href", "action") and v and (
                    "//" in v or v.strip().lower().startswith(("javascript:", "data:"))):
                self.problems.append("%s=%r on <%s>" % (k, v, tag))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append("script text")


class PageFilesTest(unittest.TestCase):
    def test_nothing_inline_and_nothing_external(self):
        p = InlineFinder()
        with open(os.path.join(UI_DIR, "index.html")) as f:
            p.feed(f.read())
        self.assertEqual(p.problems, [])
        for name in sorted(os.listdir(UI_DIR)):
            if not name.endswith(".js"):
                continue
            with open(os.path.join(UI_DIR, name)) as f:
                js = f.read()
            js = js.replace("nothing in this file uses innerHTML", "")
            js = js.replace("nothing here or in app.js uses innerHTML", "")
            for bad in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                        "eval(", "new Function", "http://", "https://"):
                self.assertFalse(bad in js, "%s uses %s" % (name, bad))
        with open(os.path.join(UI_DIR, "app.css")) as f:
            css = f.read()
        self.assertNotIn("url(", css)
        self.assertNotIn("@import", css)
        self.assertIn("@media (max-width", css)


class DashboardTest(unittest.TestCase):
    """One daemon, one fleet and one browser for all the scenarios."""

    @classmethod
    def setUpClass(cls):
        need("python3-selenium is not installed", webdriver is not None)
        need("chromium / chromium-driver are not installed",
             shutil.which("chromium") and shutil.which("chromedriver"))
        cls.w = harness.Workdir()
        cls.fleet = Fleet(token=harness.TOKEN).start()
        cls.port = write_api_config(cls.w, cls.fleet, API_TOKEN, subject=True)
        cls.daemon = cls.w.start()
        try:
            harness.wait_for(cls.healthy, timeout=20, what="the API to listen")
            page = cls.call("GET", "/ui/", token=None)
            need("GET /ui/ answers %d: the /ui/ route is not wired into the API" % page[0],
                 page[0] == 200)
            cls.driver = cls.browser()
        except BaseException:
            cls.tearDownClass()
            raise
        os.makedirs(OUT, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "driver", None) is not None:
            cls.driver.quit()
            cls.driver = None
        cls.fleet.stop()
        cls.w.cleanup()

    @staticmethod
    def browser():
        o = Options()
        o.binary_location = shutil.which("chromium")
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
            o.add_argument(arg)
        o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=o)

    @classmethod
    def healthy(cls):
        try:
            return cls.call("GET", "/healthz", token=None)[0] == 200
        except OSError:
            return False

    @classmethod
    def call(cls, method, path, body=None, token=API_TOKEN):
        c = http.client.HTTPConnection("127.0.0.1", cls.port, timeout=30)
        h = {"Authorization": "Bearer " + token} if token else {}
        data = None if body is None else json.dumps(body)
        if data is not None:
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        out = (r.status, dict(r.getheaders()), r.read().decode())
        c.close()
        return out

    def job(self, **body):
        st, _, text = self.call("POST", "/v1/jobs", body)
        self.assertIn(st, (200, 201), text)
        return json.loads(text)

    def state(self, job_id):
        return json.loads(self.call("GET", "/v1/jobs/" + job_id)[2])["state"]

    # ---- browser helpers

    def setUp(self):
        self.d = self.driver
        self.d.set_window_size(1280, 900)
        self.d.get_log("browser")  # start each test with an empty console
        self.expected_refusals = []

    def tearDown(self):
        self.assertNoConsoleErrors()

    def url(self, frag=""):
        return "http://127.0.0.1:%d/ui/%s" % (self.port, frag)

    def find(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def text(self, css):
        """The rendered text of the first match ("" when none or hidden);
        read in one script call, as the page re-renders its data parts."""
        return self.d.execute_script(
            "const e = document.querySelector(arguments[0]);"
            "return e && e.offsetParent !== null ? e.innerText : '';", css)

    def wait_text(self, css, want, timeout=15):
        return harness.wait_for(lambda: want in self.text(css), timeout=timeout,
                                what="%r in %s (have %r)" % (want, css, self.text(css)))

    def sign_in(self):
        self.d.get(self.url())
        self.d.execute_script("sessionStorage.clear()")
        self.d.get(self.url())
        self.find("#token").send_keys(API_TOKEN)
        self.find("#signin-submit").click()
        self.wait_text("#states", "scheduled")

    def shot(self, name):
        self.d.save_screenshot(os.path.join(OUT, name))

    def assertNoConsoleErrors(self):
        errors = []
        for e in self.d.get_log("browser"):
            if e["level"] not in ("SEVERE", "ERROR"):
                continue
            # A refusal the test provoked is logged by Chromium as a failed
            # resource; everything else is a real error.
            if e.get("source") == "network" and any(s in e["message"] for s in self.expected_refusals):
                continue
            errors.append(e["message"])
        self.assertEqual(errors, [], "console errors")

    def assertNoAlert(self):
        try:
            a = self.d.switch_to.alert
            text = a.text
            a.dismiss()
            self.fail("a script ran: alert(%r)" % text)
        except NoAlertPresentException:
            pass

    # ---- scenarios

    def test_headers_of_the_page(self):
        st, headers, body = self.call("GET", "/ui/", token=None)
        self.assertEqual(st, 200)
        h = {k.lower(): v for k, v in headers.items()}
        self.assertEqual(h["content-security-policy"], CSP)
        self.assertEqual(h["x-content-type-options"], "nosniff")
        self.assertEqual(h["referrer-policy"], "no-referrer")
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertEqual(self.call("GET", "/ui/app.js", token=None)[0], 200)
        # The API itself still wants the token.
        self.assertEqual(self.call("GET", "/v1/jobs", token=None)[0], 401)

    def test_wrong_token_says_so_then_sign_in(self):
        self.expected_refusals = ["401"]
        self.d.get(self.url())
        self.d.execute_script("sessionStorage.clear()")
        self.d.get(self.url())
        self.find("#token").send_keys("not-the-token")
        self.find("#signin-submit").click()
        self.wait_text("#signin-error", "Wrong token")
        self.assertFalse(self.find("#nav").is_displayed())
        self.find("#token").clear()
        self.find("#token").send_keys(API_TOKEN)
        self.find("#signin-submit").click()
        self.wait_text("#states", "scheduled")
        self.assertEqual(self.d.execute_script("return sessionStorage.getItem('tenantdel.token')"),
                         API_TOKEN)
        self.shot("overview-1280.png")
        self.d.set_window_size(390, 844)
        self.d.refresh()
        self.wait_text("#states", "scheduled")
        overflow = self.d.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth")
        self.assertLessEqual(overflow, 1, "the overview is wider than a phone")
        self.shot("overview-phone.png")

    def api_requests(self):
        """The API paths the page has fetched since the last clear."""
        return self.d.execute_script(
            "return performance.getEntriesByType('resource').map((e) => new URL(e.name))"
            ".filter((u) => !u.pathname.startsWith('/ui/')).map((u) => u.pathname + u.search)")

    def test_overview_is_one_summary_request(self):
        self.sign_in()
        self.d.execute_script("performance.clearResourceTimings()")
        harness.wait_for(lambda: self.api_requests(), timeout=15, what="a refresh")
        self.assertEqual(self.api_requests(), ["/v1/summary"])
        self.assertTrue(self.find("table.services").is_displayed())

    def test_jobs_pages_with_cursors_and_progress(self):
        made = [self.job(tenant_id="dash-page-%02d" % i, after="30d")["job_id"] for i in range(27)]
        self.sign_in()
        self.d.execute_script("performance.clearResourceTimings()")
        self.d.get(self.url("#/jobs?state=scheduled"))
        self.wait_text("table.jobs", made[-1][:13])
        first = [r.get_attribute("data-job") for r in
                 self.d.find_elements(By.CSS_SELECTOR, "table.jobs tbody tr")]
        self.assertEqual(len(first), 25)
        self.assertEqual(first, sorted(first, reverse=True))
        # One request for the page, progress included: no read per row.
        self.assertEqual([p for p in self.api_requests() if p.startswith("/v1/jobs")],
                         ["/v1/jobs?state=scheduled&limit=26&progress=1"])
        self.assertIn("0/%d" % len(SERVICES), self.text('tr[data-job="%s"] .progress-wrap' % made[-1]))
        self.find("#next").click()
        self.wait_text(".pager", "newer")
        self.assertIn("before=" + first[-1], self.d.current_url)
        older = [r.get_attribute("data-job") for r in
                 self.d.find_elements(By.CSS_SELECTOR, "table.jobs tbody tr")]
        self.assertTrue(older and all(o < first[-1] for o in older), older)
        self.find("#prev").click()
        harness.wait_for(lambda: "before=" not in self.d.current_url, timeout=10,
                         what="back to the newest page")
        self.wait_text("table.jobs", first[0][:13])

    def test_job_progresses_to_succeeded_without_reload(self):
        self.fleet.seed("dash-ok")
        self.sign_in()
        self.d.execute_script("window.__noReload = 1")
        j = self.job(tenant_id="dash-ok", tenant_name="Dash OK", now=True)
        self.d.get(self.url("#/job/" + j["job_id"]))
        self.wait_text("#job-state", "succeeded", timeout=30)
        self.assertEqual(self.d.execute_script("return window.__noReload"), 1)
        rows = self.d.find_elements(By.CSS_SELECTOR, "table.tasks tbody tr")
        self.assertEqual(len(rows), len(SERVICES))
        self.wait_text("#events", "job.succeeded")
        self.assertEqual(self.fleet.tenant("dash-ok")["total"], 0)
        self.shot("job-succeeded.png")
        # The jobs list shows it with a full progress bar.
        self.d.get(self.url("#/jobs?state=succeeded"))
        self.wait_text("table.jobs", "dash-ok")
        bar = self.find('tr[data-job="%s"] .progress-wrap' % j["job_id"])
        self.assertIn("%d/%d" % (len(SERVICES), len(SERVICES)), bar.text)

    def test_user_erasure_shows_its_tenants_with_child_links(self):
        ids = self.fleet.seed_subject_scenario(prefix="dash")
        self.sign_in()
        j = self.job(user_id=ids["user"], now=True)
        self.d.get(self.url("#/job/" + j["job_id"]))
        self.wait_text("#job-state", "succeeded", timeout=30)
        self.wait_text("table.tenants", ids["shared"])
        rows = {r.get_attribute("data-tenant"): r for r in
                self.d.find_elements(By.CSS_SELECTOR, "table.tenants tbody tr")}
        self.assertEqual(sorted(rows), sorted(ids["tenants"]))
        self.assertIn("kept: 1 other admin", rows[ids["shared"]].text)
        self.assertEqual(rows[ids["shared"]].find_elements(By.CSS_SELECTOR, "a"), [])
        link = rows[ids["solo"][0]].find_element(By.CSS_SELECTOR, "a")
        link.click()
        self.wait_text("#job-facts", "erasure of")
        self.assertEqual(self.find('#job-facts dd[data-field="parent_id"] a').text, j["job_id"])

    def test_cancel_after_confirming(self):
        j = self.job(tenant_id="dash-cancel", after="30d")
        self.sign_in()
        self.d.get(self.url("#/job/" + j["job_id"]))
        self.wait_text("#job-state", "scheduled")
        self.find("#act-cancel").click()
        self.assertTrue(self.find("#confirm").is_displayed())
        self.assertIn("dash-cancel", self.text("#confirm-text"))
        self.find("#confirm-no").click()  # backing out changes nothing
        self.assertFalse(self.find("#confirm").is_displayed())
        self.assertEqual(self.state(j["job_id"]), "scheduled")
        self.find("#act-cancel").click()
        self.find("#confirm-reason").send_keys("customer stayed")
        self.find("#confirm-yes").click()
        self.wait_text("#action-result", "cancelled")
        self.assertEqual(self.state(j["job_id"]), "cancelled")
        self.wait_text("#job-state", "cancelled")

    def test_hostile_tenant_name_is_shown_as_text(self):
        j = self.job(tenant_id="dash-xss", tenant_name=XSS, reason=XSS, after="30d")
        self.sign_in()
        self.d.get(self.url("#/jobs?tenant=dash-xss"))
        self.wait_text("table.jobs", XSS)
        self.assertEqual(self.d.find_elements(By.CSS_SELECTOR, "#view img"), [])
        self.d.get(self.url("#/job/" + j["job_id"]))
        self.wait_text('dd[data-field="tenant_name"]', XSS)
        self.assertEqual(self.text('dd[data-field="reason"]'), XSS)
        self.assertEqual(self.d.find_elements(By.CSS_SELECTOR, "img"), [])
        self.assertNoAlert()

    def test_refused_action_shows_the_api_error(self):
        self.expected_refusals = ["409"]
        j = self.job(tenant_id="dash-refused", after="30d")
        st, _, text = self.call("POST", "/v1/jobs/%s/cancel" % j["job_id"], {})
        self.assertEqual(st, 200, text)
        self.sign_in()
        self.d.get(self.url("#/job/" + j["job_id"]))
        self.wait_text("#job-state", "cancelled")
        self.find("#act-release").click()
        self.find("#confirm-yes").click()
        self.wait_text("#action-result", "refused")
        self.assertIn("409", self.text("#action-result"))
        self.assertIn("cannot release", self.text("#action-result"))
        self.assertEqual(self.state(j["job_id"]), "cancelled")


if __name__ == "__main__":
    unittest.main()
