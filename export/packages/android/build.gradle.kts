// carspotter Android library module. Add it to an app (settings.gradle.kts, one line):
//   include(":carspotter"); project(":carspotter").projectDir = file("path/to/bundle/android")
// and depend on it: implementation(project(":carspotter")).
// Written for Android Gradle Plugin 9 (Gradle 9.x, JDK 17), whose built-in Kotlin compiles src/main/kotlin, the Kotlin
// JVM target following compileOptions.targetCompatibility. Without built-in Kotlin (AGP 8, or AGP 9 with
// android.builtInKotlin=false in gradle.properties) the Kotlin Android plugin is applied below instead. The plugin
// version comes from the app's root project (see the bundle's android/README.md); the libraries below are pinned, at
// versions whose native libraries are aligned for 16 KB pages (required by Google Play for Android 15+):
// MediaPipe tasks-vision 0.10.26 and later (0.10.29 also ships x86 / x86_64 libraries again, for emulators; 0.10.26
// to 0.10.28 do not: google-ai-edge/mediapipe#6103), LiteRT 1.4.0. The pure-Kotlin core (src/main/kotlin/dev/carspotter/core)
// stays within Kotlin 1.3 and uses no Android class: the bundle's build compiles it and runs src/test with Kotlin
// 1.3.31 on a JVM.
plugins {
    id("com.android.library")
}

// AGP 9 compiles Kotlin itself unless android.builtInKotlin=false; AGP 8 never does. Without it, the Kotlin Android
// plugin compiles src/main/kotlin: applied here from the app's build classpath (AGP 9 brings it; with AGP 8 the root
// project must declare it), or a one-line error saying what to set.
val agpMajor = androidComponents.pluginVersion.major
val builtInKotlin = agpMajor >= 9 &&
    providers.gradleProperty("android.builtInKotlin").orNull?.trim()?.lowercase() != "false"
if (!builtInKotlin) {
    logger.lifecycle("carspotter: AGP $agpMajor without built-in Kotlin: applying org.jetbrains.kotlin.android")
    try {
        apply(plugin = "org.jetbrains.kotlin.android")
    } catch (e: org.gradle.api.plugins.UnknownPluginException) {
        throw GradleException(
            "carspotter: AGP $agpMajor without built-in Kotlin needs the Kotlin Android plugin: add " +
                "id(\"org.jetbrains.kotlin.android\") version \"2.2.10\" apply false to the plugins { } of the root " +
                "build.gradle.kts, or use AGP 9 with android.builtInKotlin=true (its default)"
        )
    }
    extensions.getByName("kotlin").withGroovyBuilder { "jvmToolchain"(17) } // JVM 17, as compileOptions below
}

/** The bundle's default model (carspotter.json's "model"): what aipack/<pack>/ copies and modelInAssets=false leaves out. */
val DEFAULT_MODEL = "carspotter.tflite"
val modelInAssets = providers.gradleProperty("carspotter.modelInAssets").orNull?.trim()?.lowercase() != "false"

android {
    namespace = "dev.carspotter"
    compileSdk = 36
    defaultConfig {
        minSdk = 24 // MediaPipe Tasks' minimum
        testInstrumentationRunner = "androidx.test.runner.AndroidJUnitRunner"
        consumerProguardFiles("consumer-rules.pro") // MediaPipe's classes kept in an app that minifies (R8)
    }
    sourceSets {
        // The instrumented self-test reads the bundle's golden set as its assets (expected.json, NNN.jpg, resize/).
        getByName("androidTest").assets.srcDirs("../golden")
    }
    androidResources {
        noCompress += listOf("tflite") // memory-mapped by MediaPipe and the Interpreter
        // Only the default model goes into the app: the other variants in src/main/assets/carspotter are named here
        // (aapt's patterns match a file name: a prefix*, a *suffix or a whole name), after aapt's defaults.
        ignoreAssetsPattern = "!.svn:!.git:!.ds_store:!*.scc:.*:<dir>_*:!CVS:!thumbs.db:!picasa.ini:!*~:!carspotter.int8-full.tflite" +
            // -Pcarspotter.modelInAssets=false (or in gradle.properties): the default model leaves the library's assets
            // too, for an app that ships it in the AI pack (aipack/) or downloads it (CarSpotter.create(context, file))
            (if (modelInAssets) "" else ":!$DEFAULT_MODEL")
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    testOptions {
        unitTests.all {
            it.systemProperty("carspotter.golden", file("../golden").absolutePath)
            // ModelDigestTest: the library's own model (refused with one byte changed, accepted intact)
            it.systemProperty("carspotter.assets", file("src/main/assets").absolutePath)
            it.maxHeapSize = "256m" // Photo48MpTest: a 48 MP photo through the band path within a phone-sized heap
        }
    }
}

dependencies {
    implementation("com.google.mediapipe:tasks-vision:0.10.29")
    // LiteRT (formerly TensorFlow Lite): same Java packages, org.tensorflow.lite.*; the GPU delegate needs both parts
    implementation("com.google.ai.edge.litert:litert:1.4.0")
    implementation("com.google.ai.edge.litert:litert-api:1.4.0") // InterpreterFactoryImpl at run time (google-ai-edge/LiteRT#2752)
    implementation("com.google.ai.edge.litert:litert-gpu:1.4.0")
    implementation("com.google.ai.edge.litert:litert-gpu-api:1.4.0")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.10.2")
    // Play for On-device AI: CarSpotter.createFromAiPack finds the model with AiPackManager. compileOnly: an app that
    // loads from an AI pack adds this dependency itself (its README), an app that does not carries none of it.
    compileOnly("com.google.android.play:ai-delivery:0.1.1-alpha01")
    testImplementation("junit:junit:4.13.2")
    androidTestImplementation("androidx.test.ext:junit:1.2.1")
    androidTestImplementation("androidx.test:runner:1.6.2")
    androidTestImplementation("androidx.exifinterface:exifinterface:1.4.1")
}
