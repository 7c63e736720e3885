// A host app for two exported bundles' Android library modules in one Gradle build (what an app with two models
// does): their namespaces, Kotlin packages and asset folders come from the bundles' names, so nothing clashes. CI
// builds its minified release (R8, the libraries' consumer rules) and checks the packaged native libraries' 16 KB
// alignment; on an emulator the app classifies a 12 MP bitmap with both classifiers. The app's code imports
// dev.carspotter.sample and dev.carspotter.sample_b: bundles exported as bundles/sample and bundles/sample-b. The first
// bundle's model is also a Play for On-device AI pack (its android/aipack/carspotter_sample_model module,
// on-demand; the project named as its folder, which AGP's asset-pack tasks require) in the app bundle.
//   gradle wrapper --gradle-version 9.6.0
//   ./gradlew :app:assembleRelease -PcarspotterBundle=/path/to/sample -PcarspotterBundleB=/path/to/sample-b
//   ./gradlew :app:bundleRelease ...   (the AAB: the AI pack carspotter_sample_model beside the base module)
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "carspotter-app-host"
val bundle = providers.gradleProperty("carspotterBundle").getOrElse(settingsDir.resolve("../../bundles/sample").path)
val bundleB = providers.gradleProperty("carspotterBundleB").getOrElse(settingsDir.resolve("../../bundles/sample-b").path)
include(":app")
include(":carspotter")
project(":carspotter").projectDir = file("$bundle/android")
include(":carspotterb")
project(":carspotterb").projectDir = file("$bundleB/android")
include(":carspotter_sample_model")
project(":carspotter_sample_model").projectDir = file("$bundle/android/aipack/carspotter_sample_model")
