// The bundle's npm package making model inputs from photo files, as an app using it does. Used by carspotter's
// "npm-node" and "npm-chromium" app paths.
//
//   node package_pixels.mjs node PKG SIZE FILE...      Node: the package's decodeFile (sharp, EXIF applied), then resize
//   node package_pixels.mjs chromium PKG SIZE FILE...  headless Chromium: the browser decodes (createImageBitmap, EXIF
//                                                      applied, no colour conversion), canvas RGBA, the package's resize
//   -> SIZE*SIZE*3 RGB bytes per file on stdout, in order.
//
// PKG is a copy of the bundle's onnx/ package inside a folder whose node_modules has sharp (and, for Chromium,
// puppeteer-core): the package resolves its own imports from there, as in an app. Chromium: $CARSPOTTER_CHROMIUM or
// `chromium` on the PATH.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [mode, pkg, sizeArg, ...files] = process.argv.slice(2);
const size = Number(sizeArg);

async function viaNode() {
  const { decodeFile } = await import(pathToFileURL(path.join(pkg, 'node.js')).href);
  const { resize } = await import(pathToFileURL(path.join(pkg, 'resize.js')).href);
  for (const file of files) {
    const { pixels, width, height, channels } = await decodeFile(file);
    process.stdout.write(resize(pixels, width, height, channels, size));
  }
}

async function viaChromium() {
  const puppeteer = createRequire(path.join(pkg, 'resolver.js'))('puppeteer-core');
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://localhost');
      const body = url.pathname.startsWith('/photo/') ? await readFile(files[Number(url.pathname.slice(7))])
        : url.pathname === '/' ? '<!doctype html><title>carspotter</title>' : await readFile(path.join(pkg, path.basename(url.pathname)));
      res.writeHead(200, { 'content-type': url.pathname.endsWith('.js') ? 'text/javascript' : url.pathname === '/' ? 'text/html' : 'application/octet-stream' });
      res.end(body);
    } catch (err) {
      res.writeHead(404);
      res.end(String(err));
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const browser = await puppeteer.launch({ executablePath: process.env.CARSPOTTER_CHROMIUM || 'chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    for (let i = 0; i < files.length; i++) {
      const b64 = await page.evaluate(async (index, size) => {
        const { resize } = await import('/resize.js');
        const blob = await (await fetch(`/photo/${index}`)).blob();
        const bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image', colorSpaceConversion: 'none',
                                                      premultiplyAlpha: 'none' });
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const context = canvas.getContext('2d', { willReadFrequently: true });
        context.drawImage(bitmap, 0, 0);
        const { data } = context.getImageData(0, 0, bitmap.width, bitmap.height);
        const out = resize(data, bitmap.width, bitmap.height, 4, size);
        let s = '';
        for (let k = 0; k < out.length; k += 0x8000) s += String.fromCharCode(...out.subarray(k, k + 0x8000));
        return btoa(s);
      }, i, size);
      process.stdout.write(Buffer.from(b64, 'base64'));
    }
  } finally {
    await browser.close();
    server.close();
  }
}

try {
  await (mode === 'chromium' ? viaChromium() : viaNode());
} catch (err) {
  console.error(err.message.split('\n')[0]);
  process.exit(3);
}
