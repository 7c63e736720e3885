// Android Gradle Plugin 9 with its built-in Kotlin (no Kotlin plugin), as .github/android-host.
plugins {
    id("com.android.application") version "9.5.1" apply false
    id("com.android.library") version "9.5.1" apply false
}
