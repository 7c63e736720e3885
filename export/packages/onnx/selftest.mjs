#!/usr/bin/env node
// carspotter self-test in Node: node selftest.mjs [path/to/bundle] [--json]
// Run it where this package is installed (npm install --install-links path/to/bundle/onnx onnxruntime-node sharp):
//   node node_modules/<package>/selftest.mjs path/to/bundle
// Exit code 0: passed, 1: failed, 2: could not run (missing package or file).
const args = process.argv.slice(2);
const bundle = args.find((a) => !a.startsWith('--'));
let result;
try {
  const { selfTest } = await import('./node.js'); // inside the try: a missing package is exit code 2
  result = await selfTest(bundle, args.includes('--json') ? () => {} : console.log);
} catch (err) {
  console.error(`selftest: ${err.message.split('\n')[0]}`);
  process.exit(2);
}
if (args.includes('--json')) console.log(JSON.stringify(result));
console.log(`selftest: ${result.passed ? 'PASS' : 'FAIL'} (${result.runtime})`);
process.exit(result.passed ? 0 : 1);
