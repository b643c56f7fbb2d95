// The dashboard end to end in Debian's Chromium (tests/it/server_browser.rs runs this):
// sign in, create a connection to the simulator, test it, run a backup and watch it finish,
// open the snapshot, and check that a read_only member cannot open backup contents. Every page
// visited is checked for serious or critical axe-core violations and for horizontal scrolling
// at 375 px. Prints one JSON line with what it saw; exits non-zero naming the first failed step.
//
// Arguments (JSON on argv[2]): { server, sim: { url, client_id, client_secret },
//   admin: { email, password }, reader: { email, password }, chromium }
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const args = JSON.parse(process.argv[2]);
const pages = [];
let step = "starting Chromium";

// The pages forbid inline scripts (CSP); the test contexts bypass it only to inject axe-core.
async function check(page, label) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  const layout = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    title: document.title,
    hasNav: !!document.querySelector("nav[aria-label=Main]"),
    h1: document.querySelector("h1") ? document.querySelector("h1").textContent.trim() : null,
  }));
  pages.push({ label, url: page.url(), ...layout, violations: result });
}

async function signIn(page, who) {
  await page.goto(`${args.server}/`);
  assert.match(page.url(), /\/login\?next=/, "an anonymous visit is sent to sign in");
  await check(page, "sign-in");
  await page.fill("#email", who.email);
  await page.fill("#password", who.password);
  await Promise.all([page.waitForURL(`${args.server}/`), page.click("main button[type=submit]")]);
}

const browser = await chromium.launch({
  executablePath: args.chromium,
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const admin = await browser.newContext({ viewport: { width: 375, height: 800 }, bypassCSP: true });
  const page = await admin.newPage();
  step = "the admin signs in";
  await signIn(page, args.admin);
  await check(page, "connections (empty)");

  step = "the admin creates a connection";
  await page.click("text=New connection");
  await check(page, "new connection");
  await page.fill("#name", "Simulator");
  await page.fill("#okta_domain", args.sim.url);
  await page.fill("#client_id", args.sim.client_id);
  await page.fill("#credential", args.sim.client_secret);
  await Promise.all([page.waitForURL(/\/connections\/\d+\?notice=created/), page.click("main button[type=submit]")]);
  const connectionUrl = page.url().split("?")[0];
  assert.match(await page.textContent("main"), /The connection is created/);
  await check(page, "connection");

  step = "the admin tests the connection";
  await Promise.all([page.waitForLoadState("load"), page.click("text=Test connection")]);
  await page.waitForSelector("#test-heading");
  assert.match(await page.textContent("main"), /every kind can be backed up/);
  await check(page, "test connection");

  step = "the admin runs a backup and watches it finish";
  await Promise.all([page.waitForURL(/\/jobs\/\d+/), page.click("text=Run backup now")]);
  await page.waitForFunction(() => {
    const s = document.getElementById("job-status");
    return s && (s.textContent === "succeeded" || s.textContent === "failed");
  }, null, { timeout: 120000 });
  assert.equal(await page.textContent("#job-status"), "succeeded");
  await page.waitForFunction(() => /committed/.test(document.getElementById("job-log").textContent));
  await check(page, "backup log");

  step = "the admin opens the snapshot";
  await page.goto(connectionUrl);
  assert.match(await page.textContent("main"), /succeeded/, "the backup is listed");
  await page.click("text=Browse snapshots");
  await check(page, "snapshots");
  await page.click("table a");
  await check(page, "snapshot");
  await page.click("text=group_rule");
  await check(page, "folder");
  await page.click(".entries a");
  await page.waitForSelector("pre.json");
  assert.match(await page.textContent("pre.json"), /"conditions"/);
  const snapshotFile = page.url();
  await check(page, "resource");

  const connectionPath = new URL(connectionUrl).pathname;
  for (const [path, label] of [
    [`${connectionPath}/edit`, "edit connection"],
    [`${connectionPath}/delete`, "delete connection (confirmation)"],
    ["/audit", "audit trail"],
    ["/members", "members"],
    ["/settings", "settings"],
  ]) {
    step = `the admin opens ${label}`;
    await page.goto(`${args.server}${path}`);
    await check(page, label);
  }

  step = "a read_only member cannot open backup contents";
  const reader = await browser.newContext({ viewport: { width: 375, height: 800 }, bypassCSP: true });
  const readerPage = await reader.newPage();
  await signIn(readerPage, args.reader);
  await readerPage.goto(connectionUrl);
  assert.doesNotMatch(await readerPage.textContent("main"), /Browse snapshots/);
  assert.doesNotMatch(await readerPage.textContent("main"), /Run backup now/);
  await check(readerPage, "connection (read_only)");
  const refused = await readerPage.goto(snapshotFile);
  assert.equal(refused.status(), 403);
  assert.match(await readerPage.textContent("main"), /may not see backup contents/);
  assert.doesNotMatch(await readerPage.content(), /"conditions"/);
  await check(readerPage, "refused (read_only)");

  console.log(JSON.stringify({ ok: true, pages }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, step, error: String(error && error.stack || error), pages }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
