// swift-tools-version:5.7
// A host app for two bundles' Swift packages in one SwiftPM workspace (what the macOS workflow builds and runs):
// bundles/sample and bundles/trucks, exported from one run, each ios/ folder copied to Packages/<its module> first,
// since SwiftPM names a local package after its folder and both are called ios/.
//   cp -R bundles/sample/ios .github/swift-host/Packages/CarSpotterSample
//   cp -R bundles/trucks/ios .github/swift-host/Packages/CarSpotterTrucks
//   cd .github/swift-host && swift build && swift run TwoBundles
import PackageDescription

let package = Package(
    name: "TwoBundles",
    platforms: [.iOS(.v16), .macOS(.v13)],
    dependencies: [
        .package(path: "Packages/CarSpotterSample"),
        .package(path: "Packages/CarSpotterTrucks"),
    ],
    targets: [
        .executableTarget(
            name: "TwoBundles",
            dependencies: [
                .product(name: "CarSpotterSample", package: "CarSpotterSample"),
                .product(name: "CarSpotterTrucks", package: "CarSpotterTrucks"),
            ]
        ),
    ]
)
