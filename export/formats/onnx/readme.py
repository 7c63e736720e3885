"""The ``onnx/`` folder's README (the npm package and the model for other runtimes) and the ONNX platform package's
snippets (:data:`carspotter.export.formats.onnx.format.PACKAGE`)."""

from __future__ import annotations

from carspotter.export.app_readmes import common
from carspotter.export.formats.onnx.npm_loading import LOADING as _LOADING
from carspotter.model.spec import InputSpec


def onnx_readme(model_file: str, spec: InputSpec, n_classes: int) -> str:
    """README.md for ``onnx/``: the npm package (web, Node, React Native), and the model for other runtimes."""
    size = spec.size
    return f"""# carspotter for ONNX Runtime: an npm package (web, Node, React Native)

This folder is an npm package: the model (`{model_file}`), its labels and the code an app needs, with
the reference's resize ported exactly to JavaScript, so your app gets the reference's answers.

```sh
npm install --install-links path/to/bundle/onnx onnxruntime-web      # or onnxruntime-node / onnxruntime-react-native
```

(`--install-links` copies the folder instead of linking it, so the package finds onnxruntime-common, its
peer dependency, in your project.)

```js
import * as ort from 'onnxruntime-web';
import {{ classify, openSession }} from 'carspotter-<bundle>';  // the name in package.json
const session = await openSession(ort, modelUrl);  // '{model_file}': URL or bytes, its sha256 checked first
// pixels: the upright photo as RGBA (canvas ImageData.data, channels 4) or RGB (channels 3) bytes
const result = await classify(session, pixels, width, height, 4);
if (result.show) show(result.top);                            // the top 3: {{index, label, probability}}
else showMessage('Not sure: take a closer photo of the car');
```

- `preprocess(pixels, width, height, channels)` gives the `[1, {size}, {size}, 3]` NHWC input (0..255) alone;
  `resize(...)` the `[{size}, {size}, 3]` bytes; `LABELS`, `SIZE`, `BUNDLE` the bundle's facts.
- The main entry imports nothing Node-only: it loads in browsers, Node and React Native. Node helpers
  (`decodeFile` with sharp, EXIF applied; `createSession`; `classifyFile`) are in `<package>/node`.
- Threads: `session.run` is asynchronous; `preprocess` takes a few ms on the calling thread. In a browser,
  `ort.env.wasm.proxy = true` runs inference in a worker; the whole call can also run in a Web Worker.
- Pixels must be upright and whole: apply the EXIF orientation before (browsers do with
  `createImageBitmap(blob, {{imageOrientation: 'from-image'}})`, sharp with `.rotate()`; in React Native use an
  image library that returns upright pixels) and do not shrink the photo first: `resize` averages k x k boxes of
  a large photo itself (k = side // {size}), exactly as the reference. A 48 MP photo is 193 MB as RGBA.
- The input is `[1, {size}, {size}, 3]` float32 NHWC (batch fixed at 1, so that phone execution providers,
  NNAPI and CoreML, take every node): one photo per `session.run`.
- The package is ES modules only (`"type": "module"`): `import` it (or `await import()` from CommonJS; Node
  22.12+ also lets `require` load it). Jest: run it with `NODE_OPTIONS=--experimental-vm-modules npx jest` and
  `transform: {{}}`, or let Babel transform it with `transformIgnorePatterns: ['/node_modules/(?!carspotter-)']`.
  Every subpath has types (`.`, `./node`, `./resize`, `./twopass`, `./model`).

{_LOADING.format(model_file=model_file)}
Other runtimes (Python, C++, C#): input `{spec.name}` `[1, {size}, {size}, 3]` {spec.dtype} (raw 0..255), output
`{spec.output_name}` `[1, {n_classes}]` probabilities (the shapes are fixed so that the NNAPI and CoreML execution
providers take every node; `carspotter.dynamic-batch.onnx`, when built, takes `[N, ...]` for servers); labels also in the model's `metadata_props`. Resize with
`carspotter.model.photos.resize` (Python) or port `resize.js` (an integer k x k box average, k = side // {size},
for photos of {2 * size} px or more, then bilinear without antialiasing, output x sampled at x * w / S: the
"asymmetric" mapping, not align_corners) and check the port on `golden/resize/`.

{common(spec, n_classes)}"""


SELFTEST_TEXT = """## Self-test (`selftest.mjs`)

From a project where the package is installed with onnxruntime-node and sharp:
`node node_modules/<package>/selftest.mjs path/to/bundle` (exit 0 pass, 1 fail, 2 cannot run). It checks
the **resize vectors** (`golden/resize/`: the port bit for bit), the **exact path** (`golden/NNN.png`
through your runtime: the top-3 rule with the tolerances of `golden/expected.json`) and the **package
path** (`golden/NNN.jpg` decoded by your decoder, EXIF applied, then `preprocess`: the same rule). In a
browser or React Native, call `runSelfTest({ run, readText, readBytes, decode })` from the main entry with
your own file reader and decoder, `run: (input) => infer(session, input)`: the checks are the same code. When the
golden set has the reference's boxes (a run with a localizer), it also checks the model's **box output** on the
golden inputs (max |difference| 0.01). A failing exact path means the runtime computes something else; a failing
package path with passing vectors means your decoder gives other pixels.
"""

THRESHOLD_CODE = """```js
// result.show is false when result.best.probability < {t}{neg}
if (!result.show) showMessage('Not sure: take a closer photo of the car');
else show(result.best.label, result.best.probability);
```"""

ROI_ADVICE = """Pass the region of interest as the last argument: `classify(session, pixels, width, height, channels, roi)`
(`classifyFile(session, file, roi)` in Node). `roi` is `[x0, y0, x1, y1]` in whole pixels of the same upright,
full-resolution pixels you pass, so a crop UI's `{x, y, width, height}` becomes `[x, y, x + width, y + height]`. If your
cropper reports display or fractional coordinates, scale them to the photo and make them whole:

```js
const s = width / displayedWidth;
const roi = [Math.floor(c.x * s), Math.floor(c.y * s),
             Math.min(width, Math.ceil((c.x + c.width) * s)), Math.min(height, Math.ceil((c.y + c.height) * s))];
const answer = await classify(session, pixels, width, height, 4, roi);
```

A ROI that is fractional, empty, negative or outside the photo rejects with a one-line `RoiError`. The two-pass box
logic is the `./twopass` subpath (`boxToRoi`, `needsSecondPass`), checked on the golden set's box vectors. A model
exported from a run with a localizer has a `box` output (`hasBox(session)`): `twoPass(session, pixels, width, height,
channels, roi?)` (`twoPassFile(session, file, roi?)` in Node) finds the car in pass 1 and, when it is small,
classifies its box at full resolution in pass 2, as carspotter's reference; the answer adds `box`, `roi` (or null),
`passes` and `first`. Without a `box` output it rejects with one line naming the fix."""

RESIZE_ADVICE = """Use the package's `classify` / `preprocess`: its resize is the reference's, ported (the `npm-node` and
`npm-chromium` rows, gated at 99.5 % top-1 agreement). Any other resizer (sharp's `resize(fill)`, a canvas
`drawImage` stretch) moves some answers, as the other rows show for the resizers measured here."""
