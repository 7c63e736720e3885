// A host project for an exported bundle's Android library module: what CI (and anyone without an app at hand) builds
// the module and runs its tests with. The bundle comes from -PcarspotterBundle=DIR (default: bundles/sample of this
// repository, which `nox -s export` writes).
//   gradle wrapper --gradle-version 9.6.0      # once: writes gradlew and gradle/wrapper/gradle-wrapper.jar
//   ./gradlew :carspotter:testDebugUnitTest -PcarspotterBundle=/path/to/bundle
//   ./gradlew :carspotter:connectedDebugAndroidTest -PcarspotterBundle=/path/to/bundle   # a device or emulator
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

rootProject.name = "carspotter-host"
val bundle = providers.gradleProperty("carspotterBundle").getOrElse(settingsDir.resolve("../../bundles/sample").path)
include(":carspotter")
project(":carspotter").projectDir = file("$bundle/android")
