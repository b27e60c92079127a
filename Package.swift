// swift-tools-version:5.7
// Swift Package Manager manifest: tchat's C API as a Clang module for Swift.
//
// The `tchat` target is a system library over include/module.modulemap (module `tchat`: tchat.h,
// linked with -ltchat). SwiftPM finds the library through pkg-config (`tchat`, which
// `make install` installs as <prefix>/lib/pkgconfig/tchat.pc), so install it first:
//
//   make install PREFIX=$HOME/.local
//   export PKG_CONFIG_PATH=$HOME/.local/lib/pkgconfig LD_LIBRARY_PATH=$HOME/.local/lib
//   swift run tchat-swift-chat "hello from Swift"      # against a devserver, see the example
//
// In an app's Package.swift: .package(path: "path/to/tchat") and the product "tchat", then
// `import tchat`. CI has no Swift toolchain: `make test` checks the module map with clang
// (`@import tchat` in tests/objc/import_tchat.m), not this manifest.
import PackageDescription

let package = Package(
    name: "tchat",
    products: [
        .library(name: "tchat", targets: ["tchat"]),
    ],
    targets: [
        .systemLibrary(name: "tchat", path: "include", pkgConfig: "tchat"),
        .executableTarget(name: "tchat-swift-chat", dependencies: ["tchat"], path: "examples-swift/chat"),
    ]
)
