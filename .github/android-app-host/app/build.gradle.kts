// The host app: both bundles' libraries, a minified release (R8 with the libraries' consumer-rules.pro), signed with
// the debug key so that CI can install it on an emulator; the first bundle's AI pack (android/aipack/carspotter_sample_model) in its app bundle,
// with the Play AI Delivery library that CarSpotter.createFromAiPack uses.
plugins {
    id("com.android.application")
}

android {
    namespace = "dev.carspotter.host"
    compileSdk = 36
    defaultConfig {
        applicationId = "dev.carspotter.host"
        minSdk = 24
        targetSdk = 36
        versionCode = 1
        versionName = "1"
    }
    buildTypes {
        getByName("release") {
            isMinifyEnabled = true
            isShrinkResources = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"))
            signingConfig = signingConfigs.getByName("debug")
        }
    }
    assetPacks += ":carspotter_sample_model" // Play for On-device AI: in the AAB (bundleRelease), not in an APK
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

dependencies {
    implementation(project(":carspotter"))
    implementation(project(":carspotterb"))
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.10.2")
    implementation("com.google.android.play:ai-delivery:0.1.1-alpha01")
}
