// Drives the chat page in Debian's headless Chromium (playwright-core, no browser download), in real time:
// the browser SDK's worker needs a live event loop (a --virtual-time-budget dump ends before it starts).
//   node driver.mjs PAGE_URL SCREENSHOT_PATH TEXT
// Prints one JSON line: {ok, steps: {name: seconds}, error?, console: [...]}.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../web/package.json"));
const { chromium } = require("playwright-core");

const [url, screenshot, text] = process.argv.slice(2);
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const started = Date.now();
const steps = {};
const logs = [];
const mark = (name) => (steps[name] = (Date.now() - started) / 1000);

const browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"], headless: true });
let result;
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  page.on("console", (m) => logs.length < 200 && logs.push(`${m.type()}: ${m.text()}`.slice(0, 500)));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`.slice(0, 500)));
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
  mark("registered");
  await page.click("#dm-form button");
  await page.waitForFunction(() => document.getElementById("chat-title").textContent.startsWith("DM "), null, {
    timeout: 60_000,
  });
  mark("dm_open");
  const say = async (words) => {
    await page.fill("#text", words);
    await page.click("#send-form button");
  };
  const answer = (expected) =>
    page.waitForFunction(
      (want) => [...document.querySelectorAll("#messages li:not(.mine) [data-testid=body]")].some((b) => b.textContent === want),
      expected,
      { timeout: 90_000 },
    );
  await say("ping");
  await answer("pong");
  mark("pong");
  await say(text);
  await answer(`echo: ${text}`);
  mark("echo");
  // The rest of the echo contract, as the page renders it: a reaction on the message, a reply quoting it,
  // markdown as markup, and a group the agent creates (its name and members).
  await say("/react");
  await page.waitForFunction(
    () => [...document.querySelectorAll("#messages li.mine")].some(
      (li) => li.querySelector("[data-testid=body]").textContent === "/react" && li.querySelector(".reactions span")?.textContent === "👍"),
    null, { timeout: 60_000 },
  );
  mark("reaction");
  await say("/reply");
  await page.waitForFunction(
    () => [...document.querySelectorAll("#messages li:not(.mine)")].some(
      (li) => li.querySelector(".quote")?.textContent === "/reply" && li.querySelector("[data-testid=body]").textContent.endsWith("this is a reply")),
    null, { timeout: 60_000 },
  );
  mark("reply");
  await say("/markdown");
  await page.waitForFunction(
    () => [...document.querySelectorAll("#messages li:not(.mine) [data-testid=body]")].some(
      (b) => b.querySelector("strong")?.textContent === "bold" && b.querySelector("em")?.textContent === "italic"),
    null, { timeout: 60_000 },
  );
  mark("markdown");
  await page.screenshot({ path: screenshot, fullPage: true });
  const bodies = await page.$$eval("#messages [data-testid=body]", (els) => els.map((e) => e.textContent));
  await say("/group-with-me");
  // a locator, not an element handle: the list is redrawn whenever a message arrives
  await page.locator("#conversations li", { hasText: "# agent group" }).click({ timeout: 60_000 });
  await answer("welcome");
  await page.waitForFunction(() => document.getElementById("members").textContent.includes("(you)"), null, { timeout: 30_000 });
  mark("group");
  const members = await page.textContent("#members");
  await page.screenshot({ path: screenshot.replace(/\.png$/, "-group.png"), fullPage: true });
  const groupBodies = await page.$$eval("#messages [data-testid=body]", (els) => els.map((e) => e.textContent));
  const me = await page.textContent("#me");
  result = { ok: true, steps, bodies, groupBodies, me, members };
} catch (err) {
  result = { ok: false, steps, error: String(err?.message ?? err).slice(0, 2000), console: logs };
  try {
    const [page] = browser.contexts().flatMap((c) => c.pages());
    if (page) await page.screenshot({ path: screenshot, fullPage: true });
  } catch {}
} finally {
  await browser.close();
}
result.console ??= logs.filter((l) => !l.startsWith("debug")).slice(-40);
console.log(JSON.stringify(result));
