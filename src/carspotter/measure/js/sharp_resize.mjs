// Decode photos and stretch them to SIZE x SIZE with sharp, as a Node app does: EXIF orientation applied
// (.rotate()), fit 'fill', sharp's default kernel (lanczos3). Used by carspotter's "sharp" app path.
//
//   node sharp_resize.mjs SIZE FILE...     -> SIZE*SIZE*3 RGB bytes per file on stdout, in order
//   node sharp_resize.mjs --version        -> sharp and libvips versions
//
// sharp is resolved from $CARSPOTTER_NODE_DIR (a folder with node_modules/) or the working folder.
import { createRequire } from 'node:module';
import path from 'node:path';

const base = process.env.CARSPOTTER_NODE_DIR || process.cwd();
let sharp;
try {
  sharp = createRequire(path.join(base, 'resolver.js'))('sharp');
} catch (err) {
  console.error(`sharp is not installed under ${base} (${err.message.split('\n')[0]})`);
  process.exit(3);
}
const args = process.argv.slice(2);
if (args[0] === '--version') {
  console.log(`sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}`);
  process.exit(0);
}
const size = Number(args[0]);
for (const file of args.slice(1)) {
  const { data, info } = await sharp(file).rotate().resize(size, size, { fit: 'fill' }).removeAlpha().raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3) {
    console.error(`${file}: ${info.width}x${info.height}x${info.channels}`);
    process.exit(4);
  }
  process.stdout.write(data);
}
