"""The npm package README's "Loading the model file" section: the bundlers, the model from bytes in React Native
release builds, Metro's package exports, and where onnxruntime-web finds its ``.wasm`` files (code that
``tests/test_npm_loading.py`` runs in Node)."""

from __future__ import annotations

LOADING = """### Loading the model file

The model is the package's `./model` subpath (`{model_file}`); how an app gets its bytes or URL depends on the
bundler:

- **Vite**: `import modelUrl from 'carspotter-<bundle>/model?url'`, then `ort.InferenceSession.create(modelUrl)`
  (or `assetsInclude: ['**/*.onnx']` in `vite.config.js` to import it without `?url`).
- **webpack 5**: a rule `{{ test: /\\.onnx$/, type: 'asset/resource' }}`, then `import modelUrl from
  'carspotter-<bundle>/model'` gives its URL.
- **React Native (Metro)**: in `metro.config.js`, `config.resolver.assetExts.push('onnx', 'ort')`; then with
  `expo-asset`, `const [asset] = await Asset.loadAsync(require('carspotter-<bundle>/model'))` and
  `ort.InferenceSession.create(asset.localUri)` (onnxruntime-react-native): in development only; release builds
  below. ONNX Runtime Mobile's own format,
  when built, is `carspotter.ort` with its `required_operators.config` for a reduced build.
- **Node**: `createSession()` from `carspotter-<bundle>/node` opens it from the package folder.
- **Anywhere, from bytes**: `openSession(ort, model, options)` from the main entry takes the model's bytes
  (`Uint8Array` / `ArrayBuffer`) or its URL / file path and returns `ort.InferenceSession.create`'s session in the
  runtime you pass (`base64ToBytes(text)` turns a file reader's base64 string into bytes, without `Buffer` or `atob`).

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
const session = await openSession(ort, base64ToBytes(base64));  // the same session as from a path
// or copy it out of the app bundle, then open the copy by path:
// const copy = FileSystem.documentDirectory + '{model_file}';
// await FileSystem.copyAsync({{ from: asset.localUri, to: copy }});
// const session = await openSession(ort, copy);
```

Without Expo, react-native-fs reads the file the app ships (add `{model_file}` to the Xcode target's resources and
to `android/app/src/main/assets/`): `base64ToBytes(await RNFS.readFile(RNFS.MainBundlePath + '/{model_file}',
'base64'))` on iOS, `base64ToBytes(await RNFS.readFileAssets('{model_file}', 'base64'))` on Android; or
`RNFS.copyFileAssets` / `RNFS.copyFile` into `RNFS.DocumentDirectoryPath` and `openSession(ort, thatPath)`.

#### Metro: the package's subpaths (`exports`)

The package's subpaths (`/model`, `/resize`, `/node`) are its `package.json` `exports`. React Native 0.79+ (Metro
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
