"""The npm package README's "Loading the model file" section: the bundlers, the model's SHA-256 checked before it
loads and the three ways to ship it, the model from bytes in React Native release builds, Metro's package exports,
and where onnxruntime-web finds its ``.wasm`` files (code that ``tests/test_npm_loading.py`` runs in Node)."""

from __future__ import annotations

LOADING = r"""### Loading the model file

The model is the package's `./model` subpath (`{model_file}`); how an app gets its bytes or URL depends on the
bundler:

- **Vite**: `import modelUrl from 'carspotter-<bundle>/model?url'`, then `openSession(ort, modelUrl)`
  (or `assetsInclude: ['**/*.onnx']` in `vite.config.js` to import it without `?url`).
- **webpack 5**: a rule `{{ test: /\.onnx$/, type: 'asset/resource' }}`, then `import modelUrl from
  'carspotter-<bundle>/model'` gives its URL.
- **React Native (Metro)**: in `metro.config.js`, `config.resolver.assetExts.push('onnx', 'ort')`; then with
  `expo-asset`, `const [asset] = await Asset.loadAsync(require('carspotter-<bundle>/model'))` and the file's bytes
  (below). ONNX Runtime Mobile's own format, when built, is `carspotter.ort` with its `required_operators.config` for a
  reduced build.
- **Node**: `createSession()` from `carspotter-<bundle>/node` opens the package's model; `openFile(path)` another copy.
- **Anywhere, from bytes**: `openSession(ort, model, options)` from the main entry takes the model's bytes
  (`Uint8Array` / `ArrayBuffer`) or its URL and returns `ort.InferenceSession.create`'s session in the runtime you
  pass (`base64ToBytes(text)` turns a file reader's base64 string into bytes, without `Buffer` or `atob`).

#### The model is checked before it is loaded

`openSession`, `createSession` and `openFile` compute the model's SHA-256 (Web Crypto's `crypto.subtle.digest` in
browsers and Node 19+, plain JavaScript in React Native's Hermes) and compare it with `bundle.js`'s `modelSha256`
before ONNX Runtime sees it; the session is made from the bytes that were checked. A damaged, incomplete or other
model is refused with one `Error`: `carspotter: refused the model: its sha256 is <found>, bundle.js expects
<expected> (...)`. A URL is fetched first (http(s), `blob:`, `data:`, or relative to the web page); a file path in
React Native needs `options.readBytes` (the app's own reader). `{{ sha256: '<hex>' }}` expects another file's digest
(`carspotter.ort`: its sha256 in the bundle's `manifest.json`). `{{ verify: false }}` skips the check: **unsafe**, a
corrupted or substituted model then loads and answers wrongly.

Three ways to ship the model, and what each costs in app size:

1. **In the app bundle** (the bundler's asset, as above): the app's download includes the model's MiB.
2. **A file the app downloads** (from your server, after install): `openSession(ort, 'https://.../{model_file}')`,
   or the downloaded file's bytes; the model's MiB leave the app's download. Check it with every load: this is what
   the digest is for.
3. **Bytes from anywhere** (a cache, IndexedDB, a file reader): `openSession(ort, bytes)`; no size in the app beyond
   this package's code and `bundle.js`.

#### React Native release builds: the model from bytes

`Asset.loadAsync(...)` then `InferenceSession.create(asset.localUri)` works in development only: in a release (standalone)
build the file stays inside the app bundle and onnxruntime-react-native cannot open it there (onnxruntime issue
26738). Read the bytes and create the session from them, or copy the file to the documents folder first:

```js
import * as ort from 'onnxruntime-react-native';
import {{ Asset }} from 'expo-asset';
import * as FileSystem from 'expo-file-system/legacy';       // Expo SDK 54+ ('expo-file-system' before)
import {{ openSession, base64ToBytes }} from 'carspotter-<bundle>';

const [asset] = await Asset.loadAsync(require('carspotter-<bundle>/model'));
const base64 = await FileSystem.readAsStringAsync(asset.localUri, {{ encoding: FileSystem.EncodingType.Base64 }});
const session = await openSession(ort, base64ToBytes(base64));  // checked, then the same session as from a path
// or copy it out of the app bundle (or download it there), then open the copy with a reader for its bytes:
// const copy = FileSystem.documentDirectory + '{model_file}';
// await FileSystem.copyAsync({{ from: asset.localUri, to: copy }});
// const readBytes = async (uri) => base64ToBytes(await FileSystem.readAsStringAsync(uri, {{ encoding: 'base64' }}));
// const session = await openSession(ort, copy, {{ readBytes }});
```

Without Expo, react-native-fs reads the file the app ships (add `{model_file}` to the Xcode target's resources and
to `android/app/src/main/assets/`): `base64ToBytes(await RNFS.readFile(RNFS.MainBundlePath + '/{model_file}',
'base64'))` on iOS, `base64ToBytes(await RNFS.readFileAssets('{model_file}', 'base64'))` on Android; or
`RNFS.copyFileAssets` / `RNFS.copyFile` into `RNFS.DocumentDirectoryPath` and `openSession(ort, thatPath, {{ readBytes:
async (p) => base64ToBytes(await RNFS.readFile(p, 'base64')) }})`.

#### Metro: the package's subpaths (`exports`)

The package's subpaths (`/model`, `/resize`, `/twopass`, `/node`) are its `package.json` `exports`. React Native 0.79+ (Metro
0.82) resolves them by default; **React Native < 0.79** needs them switched on in `metro.config.js`:

```js
const {{ getDefaultConfig }} = require('expo/metro-config');   // or require('@react-native/metro-config')
const config = getDefaultConfig(__dirname);
config.resolver.unstable_enablePackageExports = true;        // React Native < 0.79
config.resolver.assetExts.push('onnx', 'ort');               // the model is an asset
module.exports = config;
```

#### onnxruntime-web: serving the `.wasm` files

onnxruntime-web loads its WebAssembly (`ort-wasm-simd-threaded.wasm` and its `.mjs` loader) at run time, by default
from beside its own script, which a bundler usually moves. Copy them where your site serves static files and say
where, before the first session:

```js
// cp node_modules/onnxruntime-web/dist/ort-wasm*.wasm node_modules/onnxruntime-web/dist/ort-wasm*.mjs public/ort/
import * as ort from 'onnxruntime-web';
import {{ openSession, classify }} from 'carspotter-<bundle>';

ort.env.wasm.wasmPaths = '/ort/';                             // the folder (URL prefix) that serves those files
const session = await openSession(ort, modelUrl);             // or the bytes: await (await fetch(modelUrl)).arrayBuffer()
```
"""
"""The npm README's "Loading the model file" section (``{model_file}``: the model's file name)."""
