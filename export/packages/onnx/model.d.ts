// Types of the carspotter package's model-file subpaths ("./model", the .ort file and its config): bundlers that
// handle the file as an asset (webpack `type: 'asset/resource'`, Vite `?url` or `assetsInclude`, Metro `assetExts`)
// give its URL or asset id. See README.md, "Loading the model file".
declare const asset: string;
export default asset;
