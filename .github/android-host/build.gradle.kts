// Android Gradle Plugin 9 with its built-in Kotlin (no Kotlin plugin): the version the bundle's module is written for.
plugins {
    id("com.android.library") version "9.5.1" apply false
}
