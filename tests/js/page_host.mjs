// Run a function inside a page of headless Chromium that a local server fills from ROOT, as a web app would load
// the npm package: onnxruntime-common and onnxruntime-web mapped to ROOT/node_modules by an import map.
// Shared by package_selftest_page.mjs and model_check_page.mjs. Returns { result, console, pageErrors, error? }:
// the function's result, console errors, page errors, and the error that stopped it, if any.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

export async function runInPage(chromium, root, title, fn, args) {
  const page = `<!doctype html><title>${title}</title>
<script type="importmap">{"imports": {"onnxruntime-common": "/node_modules/onnxruntime-common/dist/esm/index.js",
                                      "onnxruntime-web": "/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs"}}</script>`;
  const server = createServer(async (req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    try {
      const body = rel === '/' ? page : await readFile(path.join(root, rel));
      res.writeHead(200, { 'content-type': rel === '/' ? 'text/html' : TYPES[path.extname(rel)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const browser = await puppeteer.launch({ executablePath: chromium, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'] });
  const out = { console: [], pageErrors: [] };
  try {
    const tab = await browser.newPage();
    tab.on('console', (m) => { if (m.type() === 'error') out.console.push(m.text()); });
    tab.on('pageerror', (e) => out.pageErrors.push(String(e)));
    await tab.goto(`http://127.0.0.1:${server.address().port}/`);
    out.result = await tab.evaluate(fn, args);
  } catch (err) {
    out.error = String(err?.stack ?? err);
  } finally {
    await browser.close();
    server.close();
  }
  return out;
}

// A path below ROOT as the page's server URL ('/pkg/...').
export const urlOf = (root, p) => '/' + path.relative(root, p);
