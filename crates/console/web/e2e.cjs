// End-to-end check of the console page in headless Chromium (playwright-core, found through
// NODE_PATH; the browser at MINERVA_CHROMIUM or /usr/bin/chromium). Run by
// tests/integration/console.rs:   node e2e.cjs URL [SCREENSHOT]
// Prints what it checked; exits non-zero at the first check that fails.
const { chromium } = require("playwright-core");

const [url, screenshot] = process.argv.slice(2);
const origin = new URL(url).origin;

function check(ok, what) {
  if (!ok) throw new Error(`failed: ${what}`);
  console.log(`ok: ${what}`);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.MINERVA_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(20000);
    const status = page.locator("#status");
    const editor = page.locator("#editor .cm-content");
    const waitStatus = async (pattern, what) => {
      try {
        await page.waitForFunction((p) => new RegExp(p).test(document.getElementById("status").textContent), pattern.source);
      } catch (e) {
        throw new Error(`${what}: the status says "${await status.innerText()}"`);
      }
    };
    const setText = async (text) => {
      await editor.click();
      await page.keyboard.press("ControlOrMeta+a");
      await page.keyboard.press("Delete");
      await page.keyboard.type(text);
    };

    await page.goto(url);
    // The catalog tree: expand the views table, its partition column is marked.
    const views = page.locator('details.table[data-table="views"]');
    await views.locator("summary").click();
    const dt = views.locator("li.partition", { hasText: "dt" });
    check(await dt.isVisible(), "the tree expands a table and marks its partition column");

    // Completion of a table name.
    await setText("SELECT count(*) AS n FROM vie");
    await page.keyboard.press("Control+Space");
    await page.locator(".cm-tooltip-autocomplete").waitFor();
    // The list ignores keys for a moment after it opens (CodeMirror's interaction delay).
    await page.waitForTimeout(300);
    await page.keyboard.press("Enter");
    const completed = await editor.innerText();
    check(/FROM views\b/.test(completed), `a table name completes (${completed.trim()})`);

    // Completion of a function name (the session's functions, Trino's among them).
    await setText("SELECT date_tr");
    await page.keyboard.press("Control+Space");
    await page.locator(".cm-tooltip-autocomplete").waitFor();
    await page.waitForTimeout(300);
    await page.keyboard.press("Enter");
    const called = await editor.innerText();
    check(/date_trunc\(/.test(called), `a function name completes (${called.trim()})`);

    // EXPLAIN: the plan keeps its lines, with the partitions row.
    await setText("EXPLAIN SELECT count(*) FROM views WHERE dt = DATE '2024-01-01'");
    await page.keyboard.press("ControlOrMeta+Enter");
    await page.locator("#grid td.pre").first().waitFor();
    const partitions = page.locator("#grid tr", { hasText: "partitions" });
    check(/1 partition/.test(await partitions.innerText()), "EXPLAIN shows the plan and the partitions row");

    await setText("SELECT count(*) AS n FROM views");
    // Ctrl-Enter runs the statement under the cursor; rows and the status line show.
    await page.keyboard.press("ControlOrMeta+Enter");
    await waitStatus(/Data scanned/, "the first query");
    const cell = await page.locator("#grid tbody td").first().innerText();
    check(Number(cell) > 0, `the query's row shows (${cell}) with the status line (${await status.innerText()})`);

    // The chart of a series by a second key.
    await setText("SELECT dt, service, count(*) AS n FROM views GROUP BY 1, 2 ORDER BY 1, 2");
    await page.keyboard.press("ControlOrMeta+Enter");
    await waitStatus(/Data scanned/, "the series query");
    await page.selectOption("#view", "chart");
    await page.locator("#chart canvas").waitFor();
    const series = await page.locator("#chart .u-legend .u-series").count();
    check(series > 2, `the chart draws one series per service (${series - 1})`);
    if (screenshot) await page.screenshot({ path: screenshot });
    await page.selectOption("#view", "table");

    // A long query is cancelled, and the next one runs.
    await setText("SELECT count(*) FROM views a CROSS JOIN views b CROSS JOIN views c WHERE a.price + b.price + c.price > 0");
    await page.keyboard.press("ControlOrMeta+Enter");
    await waitStatus(/Running/, "the long query");
    await page.waitForTimeout(300);
    await page.click("#cancel");
    await waitStatus(/Cancelled/, "the cancel");
    await setText("SELECT 42 AS answer");
    await page.keyboard.press("ControlOrMeta+Enter");
    await waitStatus(/Run time/, "the query after the cancel");
    check((await page.locator("#grid tbody td").first().innerText()) === "42", "a cancelled query stops and the next one runs");

    // Saving a query (the name asked in a dialog).
    page.once("dialog", (dialog) => dialog.accept("e2e-saved"));
    await page.click("#save");
    await page.locator("#saved li", { hasText: "e2e-saved" }).waitFor();
    check(true, "a saved query is listed");

    // A bad token gets a page that says so.
    const refused = await browser.newPage();
    const response = await refused.goto(`${origin}/?token=wrong`);
    check(response.status() === 401 && /token/.test(await refused.innerText("body")), "a bad token is refused with a page saying why");
  } finally {
    await browser.close();
  }
})().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
