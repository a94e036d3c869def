// The search page end to end: `aisle serve` on a data directory built from the bundled sample,
// driven in headless Chromium (Debian's chromium package, through playwright-core).
// Environment: AISLE_BIN (the aisle binary), AISLE_SAMPLE_DIR (the teaching sample, build/sample), CHROMIUM (optional).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const aisle = process.env.AISLE_BIN;
const sample = process.env.AISLE_SAMPLE_DIR;
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const key = "browser-test-key-0123456789";
let dir, server, base, browser;

function run(...args) {
  execFileSync(aisle, ["--threads", "1", "--log-level", "warn", ...args], { stdio: ["ignore", "ignore", "inherit"] });
}

async function health() {
  const response = await fetch(base + "/health");
  return response.json();
}

before(async () => {
  assert.ok(aisle && existsSync(aisle), "AISLE_BIN must name the aisle binary");
  assert.ok(existsSync(chromiumPath), `no Chromium at ${chromiumPath} (scripts/install-deps.sh installs it)`);
  dir = mkdtempSync(join(tmpdir(), "aisle-browser-"));
  const data = join(dir, "data");
  run("ingest", "--data-dir", data, "--catalog", join(sample, "catalog.jsonl"), "--judgments", join(sample, "judgments.csv"),
      "--events", join(sample, "events.jsonl"));
  run("index", "--data-dir", data);
  // The classifier's labels show only when it beats the majority class on held-out queries:
  // with the sample's events it does.
  run("train", "classifier", "--data-dir", data, "--epochs", "3", "--buckets", "16384");
  run("train", "related", "--data-dir", data, "--edges", join(sample, "related.csv"), "--epochs", "3", "--dim", "16", "--batch-size", "128");
  server = spawn(aisle, ["--threads", "1", "serve", "--data-dir", data, "--listen", "127.0.0.1:0"],
                 { env: { ...process.env, AISLE_API_KEY: key }, stdio: ["ignore", "pipe", "inherit"] });
  base = await new Promise((resolve, reject) => {
    let out = "";
    server.stdout.on("data", (chunk) => {
      out += chunk;
      const match = out.match(/listening on (http:\/\/[0-9.]+:\d+)\//);
      if (match) resolve(match[1]);
    });
    server.on("exit", (code) => reject(new Error(`aisle serve exited with ${code}: ${out}`)));
  });
  browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
});

after(async () => {
  if (browser) await browser.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.on("exit", resolve));
    server.kill("SIGTERM");
    assert.equal(await exited, 0, "aisle serve stops cleanly on SIGTERM");
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("search, filter by a facet, open related products, and send feedback", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(base + "/");
  await page.fill("#query", "running shoes");
  await page.press("#query", "Enter");
  await page.waitForSelector("#results li.result");

  // Results: title, brand and price, an ESCI badge, and "found by" chips.
  const titles = await page.locator("#results li.result .title").allInnerTexts();
  assert.ok(titles.some((title) => /Running Shoes/i.test(title)), titles.join(" | "));
  const first = page.locator("#results li.result").first();
  assert.match(await first.locator(".meta").innerText(), /\$\d+\.\d\d/);
  assert.match(await first.locator(".badge.esci").innerText(), /^[ESCI]$/);
  assert.ok((await first.locator(".chip.found-by").count()) >= 1);
  assert.match(await page.locator("#summary").innerText(), /results for “running shoes”/);

  // A brand facet: every result has that brand afterwards.
  const facet = page.locator('#facets button.facet[data-filter^="brand="]').first();
  const filter = await facet.getAttribute("data-filter");
  const brand = filter.slice("brand=".length);
  await facet.click();
  await page.waitForSelector("#active-filters .active-filter");
  await page.waitForFunction(() => document.querySelector("#summary").textContent.includes("results for"));
  const metas = await page.locator("#results li.result .meta").allInnerTexts();
  assert.ok(metas.length > 0);
  for (const meta of metas) assert.ok(meta.startsWith(brand), `${meta} should be by ${brand}`);

  // Related products of a result.
  await page.locator("#results li.result .show-related").first().click();
  await page.waitForSelector("#related-list .related-item");
  assert.ok((await page.locator("#related-list .related-item").count()) >= 1);
  // Each shows its price and opens as a search for its title.
  assert.match(await page.locator("#related-list .related-item .meta").first().innerText(), /\$[\d,]+\.\d\d/);
  const relatedTitle = await page.locator("#related-list .related-link").first().innerText();
  await page.locator("#related-list .related-link").first().click();
  await page.waitForFunction((title) => document.querySelector("#summary").textContent.includes(title), relatedTitle);
  assert.equal(await page.inputValue("#query"), relatedTitle);
  await page.goBack();  // back to the filtered results
  await page.waitForSelector("#active-filters .active-filter");

  // Without the API key, an add-to-cart is refused, and the result itself says so (not only
  // the footer); the key's field takes the focus.
  const before = (await health()).events;
  await page.fill("#api-key", "");
  await page.dispatchEvent("#api-key", "change");
  const firstResult = page.locator("#results li.result").first();
  await firstResult.locator(".add-to-cart").click();
  await firstResult.locator(".note.error").waitFor();
  assert.match(await firstResult.locator(".note").innerText(), /^Not sent: feedback needs the API key/);
  assert.equal(await page.evaluate(() => document.activeElement.id), "api-key");
  assert.equal((await health()).events, before);

  // A click and an add-to-cart go back as feedback events and are stored.
  await page.fill("#api-key", key);
  await page.dispatchEvent("#api-key", "change");
  await page.locator("#results li.result .title").first().click();
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes("click on"));
  assert.match(await page.locator("#status").innerText(), /stored$/);
  await page.locator("#results li.result .add-to-cart").first().click();
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes("add_to_cart on"));
  assert.match(await page.locator("#status").innerText(), /stored$/);
  assert.equal(await firstResult.locator(".note").innerText(), "Added to cart");
  assert.equal(await firstResult.locator(".note.error").count(), 0);
  assert.equal((await health()).events, before + 2);
  assert.deepEqual(errors, []);
});

test("the address holds the search, Back restores it, more results page on, and the menu and prices follow the catalog", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(base + "/");
  // The language menu offers the catalog's locales only.
  await page.waitForFunction(() => document.querySelectorAll("#locale option").length === 3);
  assert.deepEqual(await page.locator("#locale option").evaluateAll((options) => options.map((o) => o.value)), ["en", "es", "ja"]);

  await page.fill("#query", "running shoes");
  await page.press("#query", "Enter");
  await page.waitForSelector("#results li.result");
  assert.match(page.url(), /\?query=running\+shoes&locale=en$/);
  // The summary speaks to shoppers: no strategy names.
  const summary = await page.locator("#summary").innerText();
  assert.match(summary, /^\d+ results for “running shoes”$/);
  const total = Number(summary.split(" ")[0]);
  assert.ok(total > 20, summary);  // the result set, not the page

  // More results: the next page appended, no product twice.
  assert.ok(await page.locator("#more").isVisible());
  await page.click("#more");
  await page.waitForFunction(() => document.querySelectorAll("#results li.result").length > 20);
  const ids = await page.locator("#results li.result").evaluateAll((items) => items.map((li) => li.dataset.productId));
  assert.equal(new Set(ids).size, ids.length);

  // A facet goes into the address; Back removes it again.
  await page.locator('#facets button.facet[data-filter^="brand="]').first().click();
  await page.waitForSelector("#active-filters .active-filter");
  assert.match(page.url(), /&filter=brand%3D/);
  await page.goBack();
  await page.waitForFunction((n) => document.querySelectorAll("#active-filters .active-filter").length === 0 &&
                                    document.querySelector("#summary").textContent.startsWith(`${n} results`), total);
  assert.doesNotMatch(page.url(), /filter=/);

  // Sorted by price: every result is a running shoe, cheapest first, and the sort is in the address.
  await page.selectOption("#sort", "price_asc");
  await page.waitForFunction(() => location.search.includes("sort=price_asc") &&
                                   !document.querySelector("#summary").textContent.startsWith("Searching"));
  await page.waitForSelector("#results li.result");
  const sorted = await page.locator("#results li.result").evaluateAll((items) => items.map((li) => ({
    title: li.querySelector(".title").textContent,
    price: Number(li.querySelector(".meta").textContent.replace(/^.*\$/, "").replace(/,/g, "")),
  })));
  assert.ok(sorted.length > 1);
  for (const hit of sorted) assert.match(hit.title, /Running Shoes/, JSON.stringify(sorted));
  for (let i = 1; i < sorted.length; ++i) assert.ok(sorted[i - 1].price <= sorted[i].price, JSON.stringify(sorted));
  // A price facet filters by its range: its lower bound in, its upper bound out ("..<"), as
  // the bucket counted; the results are as many as the facet said.
  const priceFacet = page.locator('#facets button.facet[data-filter^="price="]').first();
  const filter = await priceFacet.getAttribute("data-filter");
  const counted = Number((await priceFacet.innerText()).match(/\((\d+)\)$/)[1]);
  const [low, high] = filter.slice("price=".length).split("..");
  const exclusive = high.startsWith("<");
  const range = [low === "" ? null : Number(low), high.replace("<", "") === "" ? null : Number(high.replace("<", ""))];
  await priceFacet.click();
  await page.waitForSelector("#active-filters .active-filter");
  await page.waitForFunction(() => !document.querySelector("#summary").textContent.startsWith("Searching"));
  const prices = await page.locator("#results li.result .meta").evaluateAll((metas) =>
    metas.map((meta) => Number(meta.textContent.replace(/^.*\$/, "").replace(/,/g, ""))));
  assert.ok(prices.length > 0);
  for (const p of prices) {
    assert.ok((range[0] === null || p >= range[0]) && (range[1] === null || (exclusive ? p < range[1] : p <= range[1])), `${p} outside ${filter}`);
  }
  assert.match(await page.locator("#summary").innerText(), new RegExp(`^${counted} results? for`));
  await page.goBack();
  await page.goBack();
  await page.waitForFunction(() => !location.search.includes("sort=") && document.querySelector("#sort").value === "relevance");

  // The address is a bookmark: opened fresh, it runs the search.
  const bookmark = await browser.newPage();
  await bookmark.goto(page.url());
  await bookmark.waitForSelector("#results li.result");
  assert.equal(await bookmark.inputValue("#query"), "running shoes");
  await bookmark.close();

  // Japanese listings are priced in yen, without decimals.
  await page.selectOption("#locale", "ja");
  await page.fill("#query", "ランニングシューズ");
  await page.press("#query", "Enter");
  await page.waitForFunction(() => document.querySelector("#summary").textContent.includes("ランニングシューズ"));
  const meta = await page.locator("#results li.result .meta").first().innerText();
  assert.match(meta, /[¥￥]\s?[\d,]+$/, meta);
  assert.equal(await page.locator("#related").isVisible(), false);
  // The page speaks the search's language: its own words, the summary, the result buttons.
  assert.match(await page.locator("#summary").innerText(), /^「ランニングシューズ」の検索結果 \d+ 件$/);
  assert.equal(await page.locator("#search-button").innerText(), "検索");
  assert.equal(await page.getAttribute("#query", "placeholder"), "商品を検索");
  assert.equal(await page.locator('#sort option[value="relevance"]').innerText(), "関連度順");
  assert.equal(await page.locator("#results li.result .add-to-cart").first().innerText(), "カートに入れる");
  assert.equal(await page.getAttribute("html", "lang"), "ja");
  // Spanish too; and back in English, English again.
  await page.selectOption("#locale", "es");
  await page.fill("#query", "zapatillas");
  await page.press("#query", "Enter");
  await page.waitForFunction(() => document.querySelector("#summary").textContent.includes("«zapatillas»"));
  assert.match(await page.locator("#summary").innerText(), /^(\d+ resultados? para|Nada en el catálogo coincide con) «zapatillas»$/);
  assert.equal(await page.locator("#search-button").innerText(), "Buscar");
  await page.goBack();
  await page.goBack();
  await page.waitForFunction(() => document.querySelector("#search-button").textContent === "Search");
  assert.equal(await page.getAttribute("html", "lang"), "en");
  assert.deepEqual(errors, []);
});

test("the query's words are marked in titles and snippets, and markup in a title stays text", async () => {
  const hostile = { id: "XSS1", locale: "en", title: 'Glow <img src=x onerror="window.pwned=1"> Lamp',
                    description: "A desk lamp that glows <script>window.pwned=2</script> softly",
                    image: "http://127.0.0.1:9/xss1.jpg" };
  const upsert = await fetch(base + "/products", { method: "POST", headers: { "Content-Type": "application/json", "X-API-Key": key },
                                                 body: JSON.stringify([hostile]) });
  assert.equal(upsert.status, 200, await upsert.text());
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(base + "/?query=glow+lamp&locale=en");
  await page.waitForSelector('#results li.result[data-product-id="XSS1"]');
  const result = page.locator('#results li.result[data-product-id="XSS1"]');
  assert.equal(await result.locator(".title").innerText(), hostile.title);
  assert.deepEqual(await result.locator(".title mark").allInnerTexts(), ["Glow", "Lamp"]);
  // The one image is the listing's picture (its own element, not markup from the title).
  assert.equal(await result.locator("img").count(), 1);
  assert.equal(await result.locator("img.thumb").getAttribute("src"), hostile.image);
  assert.equal(await page.locator("#results script").count(), 0);
  assert.match(await result.locator(".snippet").innerText(), /<script>window.pwned=2<\/script>/);
  assert.deepEqual(await result.locator(".snippet mark").allInnerTexts(), ["lamp", "glows"]);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  // A sample product: "running shoes" marks both words in its title.
  await page.goto(base + "/?query=running+shoes&locale=en");
  await page.waitForSelector("#results li.result .title mark");
  assert.deepEqual((await page.locator("#results li.result .title").first().locator("mark").allInnerTexts()).map((w) => w.toLowerCase()),
                   ["running", "shoes"]);
  assert.deepEqual(errors, []);
});

test("a misspelled query offers its correction, and the correction searches", async () => {
  const page = await browser.newPage();
  await page.goto(base + "/?query=runing+shoos&locale=en");
  await page.waitForSelector("#results li.result");
  assert.equal(await page.locator("#did-you-mean").isVisible(), true);
  assert.equal(await page.locator("#did-you-mean-link").innerText(), "running shoes");
  await page.click("#did-you-mean-link");
  await page.waitForFunction(() => location.search.includes("query=running+shoes"));
  await page.waitForFunction(() => document.querySelector("#summary").textContent.includes("“running shoes”"));
  assert.equal(await page.locator("#did-you-mean").isVisible(), false);
  await page.close();
});

test("typing offers shoppers' queries and product titles of the locale", async () => {
  const page = await browser.newPage();
  await page.goto(base + "/");
  await page.waitForFunction(() => document.querySelectorAll("#locale option").length === 3);
  await page.locator("#query").pressSequentially("runn", { delay: 30 });
  await page.waitForFunction(() => document.querySelectorAll("#suggestions option").length > 0);
  const options = await page.locator("#suggestions option").evaluateAll((list) => list.map((o) => o.value));
  assert.ok(options.includes("running shoes"), options.join(" | "));
  for (const option of options) assert.match(option, /(^|\s)runn/i, options.join(" | "));
  await page.selectOption("#locale", "ja");
  await page.fill("#query", "");
  await page.locator("#query").pressSequentially("ワイヤ", { delay: 30 });
  await page.waitForFunction(() => [...document.querySelectorAll("#suggestions option")].some((o) => o.value.includes("ワイヤレス")));
  await page.close();
});

test("at 390 px (a phone) and 1280 px the page fits its width; screenshots kept", async () => {
  const artifacts = process.env.AISLE_ARTIFACTS || join(dir, "artifacts");
  mkdirSync(artifacts, { recursive: true });
  for (const width of [1280, 390]) {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.goto(base + "/?query=running+shoes&locale=en");
    await page.waitForSelector("#results li.result");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than ${width} px`);
    assert.ok(await page.locator("#search-button").isVisible());
    const box = await page.locator("#search-button").boundingBox();
    assert.ok(box.x + box.width <= width, `the search button ends at ${box.x + box.width} px`);
    await page.screenshot({ path: join(artifacts, `search-${width}.png`) });
    await page.close();
  }
});

test("Japanese renders as glyphs, not as empty boxes (a CJK font is installed); screenshot kept", async () => {
  const artifacts = process.env.AISLE_ARTIFACTS || join(dir, "artifacts");
  mkdirSync(artifacts, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(base + "/?query=" + encodeURIComponent("ランニングシューズ") + "&locale=ja");
  await page.waitForSelector("#results li.result");
  const title = await page.locator("#results li.result .title").first().innerText();
  assert.match(title, /ランニングシューズ/);
  // Drawn in the results' own font: without a font for them, every character is the same
  // "missing glyph" box, so two different characters would give the same pixels.
  const drawn = await page.evaluate(() => {
    const font = getComputedStyle(document.querySelector("#results li.result .title")).font;
    const draw = (text) => {
      const canvas = document.createElement("canvas");
      canvas.width = 64;
      canvas.height = 64;
      const context = canvas.getContext("2d");
      context.font = font.replace(/\d+(\.\d+)?px/, "40px");
      context.fillText(text, 4, 48);
      return canvas.toDataURL();
    };
    return { ra: draw("ラ"), n: draw("ン"), shoe: draw("靴"), missing: draw("\u{10FFFD}") };
  });
  assert.notEqual(drawn.ra, drawn.n, "ラ and ン are drawn alike: no font has them");
  assert.notEqual(drawn.shoe, drawn.missing, "靴 is drawn as the missing-glyph box");
  await page.screenshot({ path: join(artifacts, "search-ja-1280.png") });
  await page.close();
});
