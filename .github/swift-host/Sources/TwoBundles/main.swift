// Two bundles' classifiers in one program: each module reads its own resources (carspotter.json, the model), and the
// types they share by name are told apart by their module.
import CarSpotterSample
import CarSpotterTrucks
import CoreGraphics
import Foundation

let sampleInfo = try CarSpotterSample.BundleInfo.packaged()
let trucksInfo = try CarSpotterTrucks.BundleInfo.packaged()
guard sampleInfo.name == "sample", trucksInfo.name == "trucks" else {
    fatalError("each module must read its own carspotter.json: got \(sampleInfo.name) and \(trucksInfo.name)")
}
let sample = try await CarSpotterSample.CarClassifier.load(backend: .coreML)
let trucks = try await CarSpotterTrucks.CarClassifier.load(backend: .coreML)
// a mid-grey photo, 3 x the input side, through both packages' resize and model
let side = 3 * sampleInfo.size
var grey = [UInt8](repeating: 128, count: side * side * 4)
let image = grey.withUnsafeMutableBytes { raw -> CGImage in
    let context = CGContext(data: raw.baseAddress, width: side, height: side, bitsPerComponent: 8, bytesPerRow: side * 4,
                            space: CGColorSpace(name: CGColorSpace.sRGB)!,
                            bitmapInfo: CGImageAlphaInfo.premultipliedLast.rawValue)!
    return context.makeImage()!
}
let a = try await sample.classify(image, orientation: .up)
let b = try await trucks.classify(image, orientation: .up)
guard a.probabilities.count == sampleInfo.labels.count, b.probabilities.count == trucksInfo.labels.count else {
    fatalError("probabilities for \(a.probabilities.count) and \(b.probabilities.count) labels")
}
print("CarSpotterSample: \(a.best.label) \(a.best.probability); CarSpotterTrucks: \(b.best.label) \(b.best.probability)")
