// carspotter Android library module. Add it to an app (settings.gradle.kts, one line):
//   include(":carspotter"); project(":carspotter").projectDir = file("path/to/bundle/android")
// and depend on it: implementation(project(":carspotter")).
// The plugin versions come from the app's root project (written against Android Gradle Plugin 8.5 and Kotlin 1.9);
// the libraries below are pinned. The pure-Kotlin core (src/main/kotlin/dev/carspotter/core) stays within Kotlin 1.3
// and uses no Android class: the bundle's build compiles it and runs src/test with Kotlin 1.3.31 on a JVM.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "dev.carspotter"
    compileSdk = 34
    defaultConfig {
        minSdk = 24 // MediaPipe Tasks' minimum
        testInstrumentationRunner = "androidx.test.runner.AndroidJUnitRunner"
    }
    sourceSets {
        // The instrumented self-test reads the bundle's golden set as its assets (expected.json, NNN.jpg, resize/).
        getByName("androidTest").assets.srcDirs("../golden")
    }
    androidResources {
        noCompress += listOf("tflite") // memory-mapped by MediaPipe and the Interpreter
        // Only the default model goes into the app: the other variants in src/main/assets are named here (aapt's
        // patterns match a prefix*, a *suffix or a whole name), after aapt's defaults.
        ignoreAssetsPattern = "!.svn:!.git:!.ds_store:!*.scc:.*:<dir>_*:!CVS:!thumbs.db:!picasa.ini:!*~:!carspotter.int8-full.tflite"
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
    testOptions { unitTests.all { it.systemProperty("carspotter.golden", file("../golden").absolutePath) } }
}

dependencies {
    implementation("com.google.mediapipe:tasks-vision:0.10.14")
    implementation("org.tensorflow:tensorflow-lite:2.16.1")
    implementation("org.tensorflow:tensorflow-lite-gpu:2.16.1")
    implementation("org.tensorflow:tensorflow-lite-gpu-api:2.16.1")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.8.1")
    testImplementation("junit:junit:4.13.2")
    androidTestImplementation("androidx.test.ext:junit:1.2.1")
    androidTestImplementation("androidx.test:runner:1.6.2")
    androidTestImplementation("androidx.exifinterface:exifinterface:1.3.7")
}
