// Open an HTML report from disk in headless Chromium the way a person would, and say what happened.
//   node check_page.mjs CHROMIUM PAGE.html
// Prints one JSON object: console errors and warnings, page errors, every request that was not the
// page itself or a data: URI (there must be none), the page's inline figures (#figures), and what a
// reader sees: the text of every element with a data-check attribute, keyed by that attribute.
import puppeteer from 'puppeteer-core';
import { pathToFileURL } from 'node:url';

const [chromium, file] = process.argv.slice(2);
const url = pathToFileURL(file).href;
const browser = await puppeteer.launch({ executablePath: chromium, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'] });
const out = { console: [], pageErrors: [], external: [], failed: [] };
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (['error', 'warning', 'warn'].includes(m.type())) out.console.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  page.on('request', (r) => { const u = r.url(); if (u !== url && !u.startsWith('data:')) out.external.push(u); });
  page.on('requestfailed', (r) => { if (!r.url().startsWith('data:')) out.failed.push(r.url()); });
  const response = await page.goto(url, { waitUntil: 'load', timeout: 60000 });
  out.loaded = response === null || response.ok();
  out.title = await page.title();
  out.figures = JSON.parse(await page.$eval('#figures', (e) => e.textContent));
  out.checks = await page.$$eval('[data-check]', (els) => els.map((e) => [e.dataset.check, e.textContent.trim()]));
  out.images = await page.$$eval('img', (els) => els.map((e) => ({ complete: e.complete, width: e.naturalWidth })));
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
